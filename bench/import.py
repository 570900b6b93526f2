"""Contact import throughput and memory, beside a bare phonenumbers loop measured in the same run.

Run: .venv/bin/python -m bench.import [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import phonenumbers

from bench.common import kenyan_number, peak_rss_mb, print_table, run_child

logger = logging.getLogger(__name__)


def write_csv(path: Path, rows: int) -> None:
    """A contact list with names, numbers in mixed formats, and clubs."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "Phone", "Club", "Admission No"])
        for i in range(rows):
            writer.writerow(
                [f"Student {i}", kenyan_number(i), ("ict", "chess", "drama")[i % 3], f"ADM{i:07d}"]
            )


def floor(path: Path) -> float:
    """Rows per second for phonenumbers.parse alone over the same numbers."""
    with path.open(newline="", encoding="utf-8") as fh:
        numbers = [row[1] for row in csv.reader(fh)][1:]
    start = time.perf_counter()
    for n in numbers:
        phonenumbers.parse(n, "KE")
    return len(numbers) / (time.perf_counter() - start)


async def _import(path: Path, db_path: Path) -> dict[str, Any]:
    from bot.clock import Clock
    from bot.contacts.importer import ContactImporter
    from bot.contacts.phones import PhoneNormaliser
    from storage import DatabaseSettings, open_database

    db = await open_database(DatabaseSettings(db_path))
    try:
        start = time.perf_counter()
        report = await ContactImporter(db, PhoneNormaliser("KE"), clock=Clock()).run(path)
        elapsed = time.perf_counter() - start
    finally:
        await db.close()
    rows = report.imported + report.updated + report.unchanged + report.skipped_count
    return {
        "rows": rows,
        "imported": report.imported,
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }


def child(csv_path: str, db_path: str) -> None:
    """Measure one import in a fresh process, so peak memory is the import's own."""
    print(json.dumps(asyncio.run(_import(Path(csv_path), Path(db_path)))))


async def run(*, quick: bool = False) -> dict[str, Any]:
    """Import 100,000 rows (and 1,000,000 unless quick); return figures and the ratio."""
    sizes = [100_000] if quick else [100_000, 1_000_000]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"contacts-{size}.csv"
            write_csv(path, size)
            ours = run_child("bench.import", "--child", str(path), str(Path(tmp) / f"{size}.db"))
            base = floor(path) if size == sizes[0] else None
            out[str(size)] = ours | ({"floor_rows_per_s": base} if base else {})
    first = out[str(sizes[0])]
    result = {
        "rows_per_s": round(first["rows_per_s"]),
        "floor_rows_per_s": round(first["floor_rows_per_s"]),
        "ratio": round(first["rows_per_s"] / first["floor_rows_per_s"], 3),
        "peak_rss_mb_100k": round(first["peak_rss_mb"], 1),
    }
    if "1000000" in out:
        result["peak_rss_mb_1m"] = round(out["1000000"]["peak_rss_mb"], 1)
        result["rows_per_s_1m"] = round(out["1000000"]["rows_per_s"])
    return result


def main() -> None:
    """Print the import benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="also 1,000,000 rows")
    parser.add_argument("--child", nargs=2, metavar=("CSV", "DB"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    r = asyncio.run(run(quick=not args.full))
    rows = [
        ("import (100,000 rows)", f"{r['rows_per_s']:,} rows/s"),
        ("floor: phonenumbers.parse alone", f"{r['floor_rows_per_s']:,} rows/s"),
        ("ratio (ours / floor)", f"{r['ratio']:.2f}  (target ≥ 0.75)"),
        ("peak RSS at 100,000", f"{r['peak_rss_mb_100k']} MB  (target < 150 MB)"),
    ]
    if "peak_rss_mb_1m" in r:
        rows.append(("peak RSS at 1,000,000", f"{r['peak_rss_mb_1m']} MB  (target < 150 MB)"))
        rows.append(("import (1,000,000 rows)", f"{r['rows_per_s_1m']:,} rows/s"))
    print_table("contact import", rows)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
