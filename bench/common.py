"""Shared helpers for the benchmarks: child processes, peak memory, and table printing."""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(module: str, *args: str, timeout: float = 3600) -> dict[str, Any]:
    """Run `python -m module args` and return the JSON object it prints last."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def kenyan_number(i: int) -> str:
    """A valid Kenyan mobile number written in one of the common ways."""
    national = f"7{(i * 7919) % 100_000_000:08d}"
    forms = (
        f"0{national}",
        national,
        f"254{national}",
        f"+254 {national[:3]} {national[3:6]} {national[6:]}",
        f"0{national[:3]}-{national[3:6]}-{national[6:]}",
    )
    return forms[i % len(forms)]


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table on stdout."""
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
