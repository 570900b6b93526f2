"""Import contacts from CSV, Excel and Word files into the store, in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.contacts.files import ContactRow, read_contacts
from bot.contacts.phones import PhoneError, PhoneNormaliser
from storage import audit
from storage.contacts import ContactIn, upsert_batch
from storage.db import Database
from storage.import_scratch import FirstRows, Outcome

BATCH = 2000
MAX_SKIPPED_LISTED = 10_000
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_.-]*$")


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass(slots=True)
class ImportReport:
    """What an import did, in the shape `--json` prints."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    skipped_count: int = 0
    duplicates: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON-able object."""
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_count": self.skipped_count,
            "duplicates": self.duplicates,
            "groups": dict(sorted(self.groups.items())),
            "dry_run": self.dry_run,
        }


@functools.lru_cache(maxsize=4096)
def slug_label(label: str) -> str:
    """Make an imported `kind:Some Name` into a valid label, e.g. `club:drama-music`."""
    kind, _, name = label.strip().lower().partition(":")
    name = re.sub(r"[^a-z0-9_.]+", "-", name).strip("-.")
    kind = re.sub(r"[^a-z0-9_]+", "-", kind).strip("-")
    return check_label(f"{kind}:{name}")


def check_label(label: str) -> str:
    """Validate a `kind:name` group label, returning it lower-cased."""
    value = label.strip().lower()
    if not LABEL_RE.match(value):
        raise ValueError(f"bad group label {label!r}: use kind:name, e.g. club:ict")
    return value


@dataclass(slots=True)
class _Batches:
    """The batch being filled, and every number this file has given so far."""

    seen: FirstRows = field(default_factory=FirstRows)
    items: list[ContactIn] = field(default_factory=list)
    by_phone: dict[str, ContactIn] = field(default_factory=dict)

    def take(self) -> list[ContactIn]:
        """Hand over the filled batch and start a new one."""
        items, self.items, self.by_phone = self.items, [], {}
        return items


class ContactImporter:
    """Streams rows from a contact file, normalises numbers, and upserts them in batches."""

    def __init__(self, db: Database, phones: PhoneNormaliser, *, clock: Clock):
        self.db = db
        self.phones = phones
        self.clock = clock

    async def run(
        self,
        path: Path,
        *,
        groups: tuple[str, ...] = (),
        sheet: str | None = None,
        dry_run: bool = False,
        actor: str = "cli",
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import one file; the whole import commits or nothing does."""
        extra_groups = tuple(check_label(g) for g in groups)
        report = ImportReport(dry_run=dry_run)
        rows = read_contacts(path, sheet=sheet)
        batches = _Batches()
        try:
            async with self.db.transaction() as tx:
                # The database writes of one batch run in the database thread while the next
                # batch is parsed here; batches are still written strictly in order.
                pending: asyncio.Task[None] | None = None
                done = 0
                try:
                    for row in rows:
                        for raw, contact in self._convert(row, extra_groups, report):
                            self._add(batches, row, raw, contact, report)
                        done += 1
                        if done % 50 == 0:
                            await asyncio.sleep(0)
                        if len(batches.items) >= BATCH:
                            if pending is not None:
                                await pending
                            batch = batches.take()
                            pending = asyncio.create_task(self._flush(tx, batch, batches, report))
                            if progress:
                                progress(done)
                    if pending is not None:
                        await pending
                        pending = None
                finally:
                    if pending is not None:
                        pending.cancel()
                        with contextlib.suppress(BaseException):
                            await pending
                await self._flush(tx, batches.take(), batches, report)
                if progress:
                    progress(done)
                await audit.record(
                    tx,
                    at=self.clock.now(),
                    actor=actor,
                    action="contacts.import",
                    subject=str(path.name),
                    imported=report.imported,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    skipped=report.skipped_count,
                    duplicates=report.duplicates,
                )
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        finally:
            batches.seen.close()
        return report

    def _convert(
        self, row: ContactRow, extra_groups: tuple[str, ...], report: ImportReport
    ) -> list[tuple[str, ContactIn]]:
        """Return (number as written, contact) for each number of a row that normalises."""
        if not row.phones:
            self._skip(report, row, "", "no phone number")
            return []
        labels = list(extra_groups)
        for g in row.groups:
            try:
                labels.append(slug_label(g))
            except ValueError:
                self._skip(report, row, g, "bad group name")
        name = row.name or " ".join(p for p in (row.first_name, row.last_name) if p)
        out = []
        for raw in row.phones:
            try:
                phone = self.phones.normalise(raw)
            except PhoneError as exc:
                self._skip(report, row, raw, str(exc))
                continue
            contact = ContactIn(
                phone=phone,
                name=name.strip(),
                first_name=(row.first_name or name.split(" ")[0]).strip(),
                extra=dict(row.extras),
                groups=tuple(dict.fromkeys(labels)),
            )
            out.append((raw, contact))
        return out

    def _add(
        self, batches: _Batches, row: ContactRow, raw: str, contact: ContactIn, report: ImportReport
    ) -> None:
        """Queue a contact; a number this file already gave is skipped, its new groups merged."""
        phone = contact.phone
        first = batches.seen.get(phone)
        if first is None:
            batches.seen.add(phone, where=row.where, groups=contact.groups)
            report.groups.update(contact.groups)
            batches.items.append(contact)
            batches.by_phone[phone] = contact
            return
        report.duplicates += 1
        same = first.where == row.where
        self._skip(
            report, row, raw, f"repeated in {row.where}" if same else f"duplicate of {first.where}"
        )
        new = tuple(label for label in contact.groups if label not in first.groups)
        if not new:
            return
        batches.seen.set_groups(phone, first.groups + new)
        report.groups.update(new)
        queued = batches.by_phone.get(phone)
        if queued is None:  # the first row is already written: add only the memberships
            queued = batches.by_phone[phone] = ContactIn(phone=phone)
            batches.items.append(queued)
        queued.groups = (*queued.groups, *new)

    @staticmethod
    def _skip(report: ImportReport, row: ContactRow, value: str, reason: str) -> None:
        report.skipped_count += 1
        if len(report.skipped) < MAX_SKIPPED_LISTED:
            report.skipped.append(
                {"row": row.row, "where": row.where, "value": value, "reason": reason}
            )

    async def _flush(
        self, tx: Any, batch: list[ContactIn], batches: _Batches, report: ImportReport
    ) -> None:
        if not batch:
            return
        results = await upsert_batch(tx, batch, now=self.clock.now(), source="import")
        for item, result in zip(batch, results, strict=True):
            first = batches.seen.get(item.phone)
            assert first is not None
            if first.outcome is not Outcome.PENDING:
                # memberships merged from a later row; the contact was counted with its first row
                if result == "updated" and first.outcome is Outcome.UNCHANGED:
                    report.unchanged -= 1
                    report.updated += 1
                    batches.seen.settle(item.phone, Outcome.CHANGED)
                continue
            if result == "imported":
                report.imported += 1
            elif result == "updated":
                report.updated += 1
            else:
                report.unchanged += 1
            unchanged = result not in ("imported", "updated")
            batches.seen.settle(item.phone, Outcome.UNCHANGED if unchanged else Outcome.CHANGED)
