"""`smsops contacts ...` and `smsops groups ...` commands."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.config.types import Config
from bot.contacts.addressbook import AddressBook
from bot.contacts.importer import ContactImporter, ImportReport
from bot.contacts.phones import PhoneNormaliser
from storage import open_database
from storage.db import Database


def register(sub: Any) -> None:
    """Add the contacts and groups commands to the parser."""
    contacts = sub.add_parser("contacts", help="the address book").add_subparsers(
        dest="contacts_command", metavar="ACTION", required=True
    )
    imp = contacts.add_parser("import", help="import a CSV, .xlsx, .docx or .doc file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--group", action="append", default=[], metavar="KIND:NAME")
    imp.add_argument("--sheet", help="only this Excel sheet")
    imp.add_argument("--dry-run", action="store_true", help="report without writing")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(handler=import_cmd)
    ls = contacts.add_parser("list", help="list contacts")
    ls.add_argument("--group")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_cmd)
    ex = contacts.add_parser("export", help="write contacts to a CSV file")
    ex.add_argument("--group")
    ex.add_argument("file", type=Path)
    ex.set_defaults(handler=export_cmd)
    for name, out in (("optout", True), ("optin", False)):
        p = contacts.add_parser(name, help=f"opt a number {'out' if out else 'back in'}")
        p.add_argument("number")
        p.set_defaults(handler=consent_cmd, opted_out=out)
    groups = sub.add_parser("groups", help="groups").add_subparsers(
        dest="groups_command", metavar="ACTION", required=True
    )
    gl = groups.add_parser("list", help="list groups with member counts")
    gl.add_argument("--json", action="store_true")
    gl.set_defaults(handler=groups_list_cmd)
    gc = groups.add_parser("create", help="create a group")
    gc.add_argument("label", metavar="KIND:NAME")
    gc.add_argument("--joinable", action="store_true", help="recipients may JOIN it by SMS")
    gc.set_defaults(handler=groups_create_cmd)


async def _book(config: Config) -> tuple[Database, AddressBook]:
    db = await open_database(config.database)
    return db, AddressBook(db, PhoneNormaliser(config.default_region), clock=Clock())


async def import_cmd(args: argparse.Namespace, config: Config) -> int:
    """Import one contact file in a single transaction."""
    db = await open_database(config.database)
    importer = ContactImporter(db, PhoneNormaliser(config.default_region), clock=Clock())
    try:
        if sys.stdout.isatty() and not args.json:
            report = await _import_with_progress(importer, args)
        else:
            report = await importer.run(
                args.file, groups=tuple(args.group), sheet=args.sheet, dry_run=args.dry_run
            )
    finally:
        await db.close()
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        _print_report(args.file, report)
    return 0


async def _import_with_progress(importer: ContactImporter, args: argparse.Namespace) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(f"importing {args.file.name}", total=None)

        def tick(rows: int) -> None:
            bar.update(task, description=f"importing {args.file.name}: {rows:,} rows")

        return await importer.run(
            args.file,
            groups=tuple(args.group),
            sheet=args.sheet,
            dry_run=args.dry_run,
            progress=tick,
        )


def _print_report(path: Path, report: ImportReport) -> None:
    verb = "would import" if report.dry_run else "imported"
    print(
        f"{path.name}: {verb} {report.imported}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped_count}"
    )
    if report.duplicates:
        print(
            f"  repeated numbers {report.duplicates}: the first row for each number was kept, "
            "with the groups of its later rows added"
        )
    for item in report.skipped[:50]:
        print(f"  skipped {item['where']}: {item['value']!r}: {item['reason']}")
    if report.skipped_count > 50:
        print(f"  … and {report.skipped_count - 50} more (use --json for all)")
    for label, count in sorted(report.groups.items()):
        print(f"  {label}: {count}")


async def list_cmd(args: argparse.Namespace, config: Config) -> int:
    """Print contacts, as text lines or one JSON array."""
    db, book = await _book(config)
    lines: list[str] = []  # printed after the read, so a closed pipe cannot cut it short
    try:
        items = []
        # aclosing: an error or Ctrl-C mid-loop ends the read (and frees the db) before close
        async with contextlib.aclosing(book.iter_contacts(group=args.group)) as stream:
            async for c in stream:
                if args.json:
                    items.append(
                        {
                            "phone": c.phone,
                            "name": c.name,
                            "first_name": c.first_name,
                            "groups": list(c.groups),
                            "extra": c.extra,
                            "opted_out_at": c.opted_out_at,
                            "optout_source": c.optout_source,
                        }
                    )
                else:
                    flag = " (opted out)" if c.opted_out_at else ""
                    lines.append(f"{c.phone}  {c.name or '-'}  {' '.join(c.groups)}{flag}")
    finally:
        await db.close()
    if args.json:
        print(json.dumps(items, ensure_ascii=False))
    for line in lines:
        print(line)
    return 0


async def export_cmd(args: argparse.Namespace, config: Config) -> int:
    """Write contacts to CSV in a form that `contacts import` reads back."""
    target: Path = args.file
    if target.is_dir():
        raise ValueError(f"{target}: is a directory; give a file name")
    db, book = await _book(config)
    count = 0
    tmp = target.with_name(target.name + ".partial")
    try:
        async with contextlib.aclosing(book.iter_contacts(group=args.group)) as stream:
            contacts = [c async for c in stream]
        extras = sorted({k for c in contacts for k in c.extra})
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["phone", "name", "first name", "groups", *extras])
            for c in contacts:
                row = [c.phone, c.name, c.first_name, " ::: ".join(c.groups)]
                writer.writerow(row + [str(c.extra.get(k, "")) for k in extras])
                count += 1
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
        await db.close()
    print(f"exported {count} contacts to {target}")
    return 0


async def consent_cmd(args: argparse.Namespace, config: Config) -> int:
    """Opt a number out of (or back into) all messages, as staff."""
    db, book = await _book(config)
    try:
        changed = await book.set_consent(
            args.number, opted_out=args.opted_out, source="staff", actor="cli"
        )
    finally:
        await db.close()
    state = "opted out" if args.opted_out else "opted in"
    print(f"{args.number}: {state}" if changed else f"{args.number}: already {state}")
    return 0


async def groups_list_cmd(args: argparse.Namespace, config: Config) -> int:
    """Print groups with their member counts."""
    db, book = await _book(config)
    try:
        groups = await book.groups()
    finally:
        await db.close()
    if args.json:
        print(
            json.dumps(
                [{"label": g.label, "members": g.members, "joinable": g.joinable} for g in groups]
            )
        )
    else:
        for g in groups:
            print(f"{g.label}  {g.members} members{'  (joinable)' if g.joinable else ''}")
    return 0


async def groups_create_cmd(args: argparse.Namespace, config: Config) -> int:
    """Create a group, or change whether it is joinable."""
    db, book = await _book(config)
    try:
        created = await book.create_group(args.label, joinable=args.joinable, actor="cli")
    finally:
        await db.close()
    print(f"{'created' if created else 'updated'} {args.label.lower()}")
    return 0
