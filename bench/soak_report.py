"""The soak's verdict on memory and file descriptors, and its tables (rich) for the terminal."""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

logger = logging.getLogger(__name__)

WARMUP_SHARE = 0.2
MIN_WARMUP_SECONDS = 10.0
TABLE_ROWS = 16


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, in value per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60


def flatness(
    samples: list[list[float]], *, seconds: float, max_rss_slope: float, max_fd_spread: int
) -> dict[str, Any]:
    """Whether RSS and fds are flat over the samples [t, rss_mb, fds, ...] after warm-up."""
    warmup = max(MIN_WARMUP_SECONDS, WARMUP_SHARE * seconds)
    after = [s for s in samples if s[0] >= warmup]
    failures: list[str] = []
    if len(after) < 3:
        failures.append(f"only {len(after)} sample(s) after the {warmup:.0f} s warm-up")
    rss = [s[1] for s in after] or [0.0]
    fds = [int(s[2]) for s in after] or [0]
    slope = slope_per_minute([(s[0], s[1]) for s in after])
    fd_slope = slope_per_minute([(s[0], s[2]) for s in after])
    late = slope_per_minute([(s[0], s[1]) for s in after[len(after) // 2 :]])
    spread = max(fds) - min(fds)
    if slope > max_rss_slope:
        failures.append(
            f"RSS grows {slope:.2f} MB/min after warm-up (limit {max_rss_slope} MB/min): "
            f"{rss[0]:.1f} → {rss[-1]:.1f} MB"
        )
    if spread > max_fd_spread:
        failures.append(
            f"open fds vary by {spread} after warm-up (limit {max_fd_spread}): "
            f"{min(fds)}..{max(fds)}, last {fds[-1]}"
        )
    return {
        "warmup_seconds": warmup,
        "samples_after_warmup": len(after),
        "rss_slope_mb_per_min": round(slope, 3),
        "rss_slope_second_half_mb_per_min": round(late, 3),
        "rss_after_warmup_mb": [round(min(rss), 1), round(max(rss), 1)],
        "fd_slope_per_min": round(fd_slope, 3),
        "fd_spread": spread,
        "fds_after_warmup": [min(fds), max(fds)],
        "limits": {"max_rss_slope_mb_per_min": max_rss_slope, "max_fd_spread": max_fd_spread},
        "failures": failures,
    }


def _thin(samples: list[list[float]], rows: int) -> list[list[float]]:
    if len(samples) <= rows:
        return samples
    step = (len(samples) - 1) / (rows - 1)
    return [samples[round(i * step)] for i in range(rows)]


def print_report(result: dict[str, Any]) -> None:
    """Print memory and fds over time, each endpoint's figures, and the verdict."""
    console = Console(width=None if sys.stdout.isatty() else 120)
    warmup = result["flat"]["warmup_seconds"]
    over_time = Table(title="server process over time (psutil)")
    for col in ("t (s)", "RSS (MB)", "open fds", "db+wal (MB)", ""):
        over_time.add_column(col, justify="right")
    for t, rss, fds, db in _thin(result["samples"], TABLE_ROWS):
        phase = "warm-up" if t < warmup else ""
        over_time.add_row(f"{t:.0f}", f"{rss:.1f}", f"{fds:.0f}", f"{db:.1f}", phase)
    console.print(over_time)
    endpoints = Table(title="endpoints")
    for col in ("endpoint", "count", "errors", "5xx", "p50 ms", "p99 ms", "max ms"):
        endpoints.add_column(col, justify="left" if col == "endpoint" else "right")
    for name, e in result["endpoints"].items():
        endpoints.add_row(
            name, str(e["count"]), str(e["errors"]), str(e["5xx"]),
            f"{e['p50_ms']:.1f}", f"{e['p99_ms']:.1f}", f"{e['max_ms']:.1f}",
        )  # fmt: skip
    console.print(endpoints)
    flat = result["flat"]
    fake = result["fake_at"]
    console.print(
        f"load: {result['started']} · broadcasts created {result['broadcasts_created']} · "
        f"fake AT accepted {fake['accepted']} message(s) in {fake['requests']} request(s) · "
        f"delivery reports {result['delivery_reports']} · outbox {result['outbox']}"
    )
    console.print(
        f"after the {warmup:.0f} s warm-up: RSS slope {flat['rss_slope_mb_per_min']:+.3f} MB/min "
        f"(limit {flat['limits']['max_rss_slope_mb_per_min']}; second half "
        f"{flat['rss_slope_second_half_mb_per_min']:+.3f}), RSS "
        f"{flat['rss_after_warmup_mb'][0]}..{flat['rss_after_warmup_mb'][1]} MB, fds "
        f"{flat['fds_after_warmup'][0]}..{flat['fds_after_warmup'][1]} "
        f"(spread {flat['fd_spread']}, limit {flat['limits']['max_fd_spread']})"
    )
    for note in result["error_notes"][:10]:
        console.print(f"  [yellow]{note}[/yellow]", markup=True, highlight=False)
    if result["ok"]:
        console.print("[bold green]SOAK PASSED[/bold green]: flat after warm-up, no errors")
    else:
        console.print("[bold red]SOAK FAILED[/bold red]:")
        for why in result["failures"]:
            console.print(f"  - {why}", markup=False, highlight=False)
