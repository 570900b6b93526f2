"""`make bench`: run every benchmark, print one table, and write bench/results/latest.json.

Each figure stands beside a floor measured in the same run; `ratio` is our throughput divided
by the floor's (higher is better, 1.0 = as fast as the floor). `--full` adds the 1,000,000-row
and 1,000,000-recipient runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
SUITES = ("import", "dispatch", "inbound")


def _row(name: str, r: dict[str, Any]) -> tuple[str, str, str, str]:
    if name == "import":
        return (
            name,
            f"{r['rows_per_s']:,} rows/s",
            f"{r['floor_rows_per_s']:,} rows/s",
            f"{r['ratio']:.2f}",
        )
    if name == "dispatch":
        return (
            name,
            f"{r['recipients'] / r['seconds']:,.0f} msgs/s",
            f"{r['recipients'] / r['floor_seconds']:,.0f} msgs/s",
            f"{r['ratio']:.2f}",
        )
    ours = r.get("messages_per_s") or r.get("ours_per_s") or 0
    floor = r.get("floor_per_s") or r.get("floor_messages_per_s") or 0
    return (name, f"{ours:,.0f} msgs/s", f"{floor:,.0f} req/s", f"{r['ratio']:.2f}")


def main() -> None:
    """Run the suites and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="include the 1,000,000 runs")
    parser.add_argument("--only", choices=SUITES, action="append")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.only or SUITES:
        module = importlib.import_module(f"bench.{name}")
        start = time.perf_counter()
        results[name] = asyncio.run(module.run(quick=not args.full))
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    rows = [("suite", "ours", "floor", "ratio")] + [_row(k, v) for k, v in results.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    RESULTS.parent.mkdir(exist_ok=True)
    meta = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "full": args.full,
    }
    RESULTS.write_text(json.dumps({**results, "meta": meta}, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
