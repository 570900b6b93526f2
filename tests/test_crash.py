"""Kill -9 the server at random moments mid-broadcast while STOPs arrive: nobody is sent twice,
nobody forgotten, no STOP lost, and nobody gets the broadcast once their opt-out has committed.

Defaults are small enough for `make test`; SMSOPS_CRASH_RECIPIENTS, SMSOPS_CRASH_KILLS,
SMSOPS_CRASH_STOPS, SMSOPS_CRASH_STAFF_OPTOUTS and SMSOPS_CRASH_SEED scale and vary it (the
proof run is 10,000 recipients and 20 kills).

The guarantee checked for opt-outs (see bot/dispatch/worker.py): the AT gateway has one lane, and a
batch is checked for opt-outs in the transaction that clears it to leave (outbox.claim for the
first batch of a run or an urgent row, outbox.sendable when the reserved batch is promoted),
which runs only after the answer to the lane's previous request has come back. So a broadcast
message reaches someone after their opt-out committed only if its request was cleared before
the commit: the request in flight then, or the one already cleared to go next; never a later
one. In the fake's records: the request carrying it follows a request that was answered before
the commit (tests.support.crash.cleared_not_before). A STOP also queues a confirmation, which
wakes the lane as urgent and makes it give the reserved batch back (re-claimed with the check),
so STOPs alone hardly reach outbox.sendable; staff opt-outs (`smsops contacts optout`, no reply,
no wake) at the head of the queue are what exercise it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.config.loader import load_config
from bot.config.types import Config
from bot.core import open_core
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import (
    AT_KEY,
    free_port,
    make_config,
    seed_contacts,
    write_config,
)
from tests.support.crash import (
    Server,
    StaffOptOut,
    Stop,
    cleared_not_before,
    frontier_picker,
    opt_out_as_staff,
    plan_stops,
    post_again,
    post_stops,
    states,
    wall_to_mono,
)
from tests.support.db import PRESENT, DbFile

RECIPIENTS = int(os.environ.get("SMSOPS_CRASH_RECIPIENTS", "2000"))
KILLS = int(os.environ.get("SMSOPS_CRASH_KILLS", "6"))
# Half of the STOPs come from a random sample, half from the next rows to leave. Each one's
# confirmation is a request of its own on the lane, so they are kept to about 1%.
STOPS = int(os.environ.get("SMSOPS_CRASH_STOPS", str(20 + RECIPIENTS // 100)))
STAFF = int(os.environ.get("SMSOPS_CRASH_STAFF_OPTOUTS", str(RECIPIENTS // 40)))
SEED = int(os.environ.get("SMSOPS_CRASH_SEED", "7"))
BATCH = 50
LANES = 1  # one gateway (Africa's Talking), one request in flight at a time
DELAY = 0.08  # every request to the fake is in flight this long: kills land mid-request
IN_FLIGHT_ERROR = "request in flight when the process stopped"
STARTUP = 1.5  # about how long `smsops serve` takes to listen (for spreading the STOPs)


def phone_of(i: int) -> str:
    """Recipient i's number as the provider sees it (E.164)."""
    return f"+2547{20_000_000 + i:08d}"


async def prepare(tmp_path: Path, url: str, port: int) -> tuple[Config, Path]:
    """Config and database with RECIPIENTS contacts and one approved broadcast to them all."""
    opts: dict[str, Any] = {"primary": "africastalking", "at_url": url, "batch": BATCH}
    opts["threshold"] = 10**9
    config = make_config(tmp_path, **opts)
    path = write_config(tmp_path, **opts)
    path.write_text(path.read_text().replace("port = 0", f"port = {port}"))
    csv = "Name,Phone,Club\n" + "".join(
        f"S{i},07{20_000_000 + i:08d},ICT\n" for i in range(RECIPIENTS)
    )
    async with open_core(config, clock=Clock()) as core:
        await seed_contacts(core, tmp_path, csv)
        reg = config.people["registrar"]
        view = await core.broadcasts.compose(
            audience="club:ict", message="Exam at 9", requester=reg
        )
        assert (await core.broadcasts.approve(view.id, person=reg)).outcome == "approved"
    assert load_config(path).database_path == config.database_path
    return config, path


async def test_kill_minus_nine_with_stops_never_duplicates_or_loses(tmp_path: Path) -> None:
    """Kill -9 `smsops serve` KILLS times mid-broadcast while STOPs and staff opt-outs arrive."""
    began = time.monotonic()
    rng = random.Random(SEED)
    fake = FakeAfricasTalking(api_key=AT_KEY)
    url = await fake.start()
    fake.faults.delay(DELAY)
    port = free_port()
    config, path = await prepare(tmp_path, url, port)
    db = config.database_path
    # Kill moments, counted from when the server listens: together they span about 80% of
    # the time the lane needs (a request every ~DELAY s: the batches, and one per STOP's
    # reply), so every kill lands mid-broadcast, at a random point of a request or between two.
    sending = (RECIPIENTS / BATCH + STOPS) * (DELAY + 0.01)
    runs = [rng.uniform(0.0, 1.6 * sending / max(KILLS, 1)) for _ in range(KILLS)]
    spread = 0.9 * (sum(runs) + KILLS * STARTUP)
    phones = [phone_of(i) for i in range(RECIPIENTS)]
    stops = plan_stops(rng, phones, count=STOPS - STOPS // 2, frontier=STOPS // 2, spread=spread)
    staff = [StaffOptOut(rng.uniform(0.0, spread)) for _ in range(STAFF)]
    taken = {s.phone for s in stops if s.phone}
    near = frontier_picker(db, rng, taken=taken, window=2 * BATCH)
    head = frontier_picker(db, rng, taken=taken, window=BATCH, reserved=True)
    server = Server(path)
    t0 = time.monotonic()
    posting = asyncio.gather(
        post_stops(port, stops, t0=t0, pick=near),
        opt_out_as_staff(config, staff, t0=t0, pick=head, server=server),
    )
    for seconds in runs:
        if states(db)["queued"] == 0:
            break
        await server.run_then_kill(seconds)
    killing_ended = time.monotonic()
    # One last, clean run until every STOP is stored and nothing is queued or in flight.
    await server.start()
    try:
        async with asyncio.timeout(180):
            await posting
            again = await post_again(port, stops)  # all stored already: nothing happens
            while (s := states(db))["queued"] + s["claimed"] + s["sending"] > 0:
                await asyncio.sleep(0.2)
    finally:
        posting.cancel()
        await server.end(signal.SIGTERM)
        await fake.stop()
    assert [a.duplicate for a in again] == [True] * len(stops)
    during = sum(1 for s in stops if s.attempts[0].started < killing_ended)
    print(f"\n{during} of {len(stops)} STOPs were first posted before the last kill")
    check_outcome(db, fake, stops, staff, kills=server.kills, began=began)


def check_outcome(
    db: Path,
    fake: FakeAfricasTalking,
    stops: list[Stop],
    staff: list[StaffOptOut],
    *,
    kills: int,
    began: float,
) -> None:
    """Every assertion of the crash suite, on the final database and the fake's records."""
    body = DbFile(db).rows("broadcasts", "body")[0]["body"]
    reqs = fake.requests
    requested = Counter((n, r.form.get("message", "")) for r in reqs for n in r.recipients)
    accepted = Counter((a.number, a.text) for a in fake.accepted)
    duplicates = {key: n for key, n in requested.items() if n > 1}
    assert duplicates == {}, f"sent twice: {list(duplicates)[:5]}"

    # Every recipient: sent exactly once, unknown (at most once), or skipped after opting out.
    opted = {s.phone for s in stops} | {o.phone for o in staff}
    rows = DbFile(db).rows("outbox", "phone", "state", "error", broadcast_id=PRESENT)
    assert len(rows) == RECIPIENTS
    final = Counter(r["state"] for r in rows)
    for r in rows:
        key = (r["phone"], body)
        if r["state"] == "sent":
            assert requested[key] == accepted[key] == 1, r["phone"]
        elif r["state"] == "unknown":
            assert requested[key] <= 1, r["phone"]
        else:
            assert r["state"] == "skipped", (r["phone"], r["state"])  # nothing stuck or lost
            assert r["phone"] in opted and r["error"] == "opted out before sending"
            assert requested[key] == 0, r["phone"]
    assert final["sent"] + final["unknown"] + final["skipped"] == RECIPIENTS, final

    # Unknown rows (broadcast and replies): listed, at most one batch per lane per crash.
    unknown = DbFile(db).rows("outbox", "phone", "batch_id", "updated_at", "error", state="unknown")
    per_kill: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in unknown:
        assert u["error"] == IN_FLIGHT_ERROR, dict(u)  # only ever left by a crash
        per_kill[u["updated_at"]][u["batch_id"]].append(u["phone"])
    assert len(per_kill) <= kills, (len(per_kill), kills)
    print(f"\nunknown rows ({len(unknown)}), per restart after a kill:")
    for stamp, batches in sorted(per_kill.items()):
        assert len(batches) <= LANES, (stamp, list(batches))
        for batch_id, phones in batches.items():
            assert len(phones) <= BATCH, (batch_id, len(phones))
            print(f"  {stamp} batch {batch_id}: {len(phones)}: {', '.join(sorted(phones))}")
    assert len(unknown) <= BATCH * LANES * kills, (len(unknown), kills)

    late = check_stops(db, fake, stops, staff, body=body, requested=requested, accepted=accepted)
    counts = [sum(len(p) for p in b.values()) for b in per_kill.values()] or [0]
    replies_hit = sum(1 for n in counts if n == 1)  # a kill during a confirmation (batch of 1)
    print(
        f"crash test: {RECIPIENTS} recipients, {kills} kills, {time.monotonic() - began:.1f} s, "
        f"states {dict(final)}; unknown per kill max {max(counts)}, total {len(unknown)} "
        f"({len(counts) - replies_hit} batches, {replies_hit} single rows); "
        f"duplicates {len(duplicates)}; STOPs {len(stops)} posted, "
        f"{sum(len(s.attempts) - 1 for s in stops)} retries, "
        f"{sum(1 for s in stops if s.acked and s.acked.duplicate)} stored by an attempt whose "
        f"answer was lost (killed or abandoned), 0 lost; {len(staff)} staff opt-outs; "
        f"broadcast messages that reached someone after their opt-out stamp (in flight or "
        f"cleared at the commit): {late}"
    )


def check_stops(
    db: Path,
    fake: FakeAfricasTalking,
    stops: list[Stop],
    staff: list[StaffOptOut],
    *,
    body: str,
    requested: Counter[tuple[str, str]],
    accepted: Counter[tuple[str, str]],
) -> int:
    """STOPs: stored, confirmed once and last, none overtaken by the broadcast; return `late`."""
    inbound = {
        r["provider_id"]: r for r in DbFile(db).rows("inbound", "provider_id", "sender", "outcome")
    }
    assert len(inbound) == len(stops)  # one row per STOP, however often it was posted
    optouts = {
        r["phone"]: r["opted_out_at"]
        for r in DbFile(db).rows("contacts", "phone", "opted_out_at", opted_out_at=PRESENT)
    }
    assert set(optouts) == {s.phone for s in stops} | {o.phone for o in staff}
    replies = {r["provider_id"]: r for r in DbFile(db).replies()}
    assert len(replies) == len(stops)  # exactly one confirmation queued per STOP
    bounds = cleared_not_before(fake.requests, delay=DELAY)
    carried: dict[str, list[int]] = defaultdict(list)  # phone -> requests that carried it
    for i, r in enumerate(fake.requests):
        for n in r.recipients:
            carried[n].append(i)
    late = 0
    for item in staff:  # no reply; the broadcast only in a request cleared before the commit
        assert all(fake.requests[i].form["message"] == body for i in carried[item.phone])
        for i in carried[item.phone]:
            assert bounds[i] <= item.committed, (item.phone, bounds[i] - item.committed)
            late += fake.requests[i].timestamp > wall_to_mono(optouts[item.phone])
    for stop in stops:
        assert all(a.status in (200, None) for a in stop.attempts), stop.attempts  # no 4xx/5xx
        assert stop.acked is not None, stop.provider_id
        assert inbound[stop.provider_id]["outcome"] == "opted_out", (stop.text, stop.phone)
        assert inbound[stop.provider_id]["sender"] == stop.phone
        committed = stop.committed_by()
        stamped = wall_to_mono(optouts[stop.phone])  # taken before the commit, so <= it
        assert stop.attempts[0].started - 1.0 <= stamped <= committed + 1.0, stop.provider_id
        reply = replies[stop.provider_id]
        key = (stop.phone, reply["text"])
        if reply["state"] == "sent":
            assert requested[key] == accepted[key] == 1, stop.phone
        else:
            assert reply["state"] == "unknown" and requested[key] <= 1, dict(reply)
        mine = carried[stop.phone]
        if requested[key]:  # the confirmation is the last message they get
            assert fake.requests[mine[-1]].form["message"] == reply["text"], stop.phone
        for i in mine:
            if fake.requests[i].form["message"] != body:
                continue
            # The broadcast to a STOP sender left in a request cleared before the commit.
            assert bounds[i] <= committed, (stop.phone, bounds[i] - committed)
            late += fake.requests[i].timestamp > stamped
    return late
