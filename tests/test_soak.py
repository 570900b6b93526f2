"""The soak suite, short: `smsops serve` under a mixed load for 60 s; memory and fds stay flat.

The full run is `make soak` (30 minutes, bench/soak.py); SMSOPS_SOAK_SECONDS sets this one's
length. The load is real HTTP on 127.0.0.1: REST broadcasts, inbound keyword and delivery
callbacks from the fake Africa's Talking, and console chat commands.
"""

from __future__ import annotations

import os

import pytest

from bench.soak import run

SECONDS = float(os.environ.get("SMSOPS_SOAK_SECONDS", "60"))
# Over a minute, RSS still creeps up while SQLite's page cache and the allocator fill; a leak
# of even 1 KB per request (about 20 requests/s here) would show as more than 1 MB/min.
MAX_RSS_SLOPE = 3.0 if SECONDS < 300 else 0.5
MAX_FD_SPREAD = 4

KINDS = (
    "POST /api/v1/broadcasts",
    "POST /api/v1/broadcasts/{id}/approve",
    "GET /api/v1/broadcasts/{id}",
    "POST /callbacks/at/inbound",
    "POST /callbacks/at/delivery",
    "POST /console/command",
    "GET /healthz",
)


@pytest.mark.slow
async def test_soak_is_flat_and_error_free() -> None:
    result = await run(
        SECONDS, sample_every=2.0, max_rss_slope=MAX_RSS_SLOPE, max_fd_spread=MAX_FD_SPREAD
    )
    endpoints = result["endpoints"]
    summary = {
        k: (e["count"], e["errors"], e["5xx"], round(e["p99_ms"])) for k, e in endpoints.items()
    }
    print(f"\nsoak {SECONDS:.0f} s: {summary}\nflat: {result['flat']}")
    # The load really happened: every kind of request, and messages went out and came back.
    for kind in KINDS:
        assert endpoints[kind]["count"] > 0, kind
    assert result["broadcasts_created"] >= SECONDS * 0.5 * 0.9
    assert endpoints["POST /callbacks/at/inbound"]["count"] >= SECONDS * 4 * 0.9
    fake = result["fake_at"]
    assert fake["accepted"] > 100, fake
    assert result["delivery_reports"] == fake["accepted"]
    # Every message the fake accepted is recorded as sent, nothing is left queued or sending.
    assert result["outbox"].get("sent", 0) == fake["accepted"], result["outbox"]
    stuck = {k: n for k, n in result["outbox"].items() if k in ("queued", "sending", "unknown")}
    assert stuck == {}, result["outbox"]
    # No errors, no 5xx, a clean server log and a clean stop.
    assert all(e["5xx"] == 0 for e in endpoints.values()), summary
    assert all(e["errors"] == 0 for e in endpoints.values()), result["error_notes"]
    assert result["server_log_errors"] == [] and result["server_exit"] == 0
    # Flat after warm-up.
    flat = result["flat"]
    assert flat["samples_after_warmup"] >= 10
    assert flat["rss_slope_mb_per_min"] <= MAX_RSS_SLOPE, flat
    assert flat["fd_spread"] <= MAX_FD_SPREAD, flat
    assert result["ok"], result["failures"]
