"""The send journal names the batch that left: its rows stay `claimed` (not rewritten as
`sending`) until their own outcome is written, and a crash meanwhile leaves them `unknown`."""

from __future__ import annotations

from pathlib import Path

from bot.core import Core, open_core
from storage import outbox
from storage.outbox import Claimed, journal, lanes
from tests.support import db
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.lanes import accepted_plan, claim_request
from tests.support.rig import approved_broadcast


async def take(core: Core, batch_id: str, state: str, limit: int) -> Claimed:
    """Claim a batch the way a lane does."""
    async with core.db.transaction() as tx:
        batch = await outbox.claim(tx, claim_request(core, batch_id, state=state, limit=limit))
    assert batch is not None and batch.ids
    return batch


async def states(core: Core) -> dict[int, str]:
    return {r["id"]: r["state"] for r in await db.outbox_rows(core.db, "id", "state")}


async def journal_rows(core: Core) -> list[tuple[str, str | None, bool]]:
    found = await db.journal_rows(core.db)
    return [(r["batch_id"], r["next_batch_id"], r["outcome"] == journal.APPLIED) for r in found]


async def journal_then_write(core: Core, batch: Claimed, following: Claimed | None) -> None:
    """Journal `batch`'s answer naming `following`, then write it as the applier does."""
    stamp = core.clock.now().isoformat()
    plan = accepted_plan(batch)
    next_id = following.batch_id if following else None

    async with core.db.transaction() as tx:
        await tx.run(
            journal.add_in,
            batch_id=batch.batch_id,
            gateway="simulator",
            broadcast_id=batch.broadcast_id,
            outcome=plan,
            next_batch_id=next_id,
            stamp=stamp,
        )
    outcome = lanes.Outcome("simulator", batch.batch_id, plan.sent, [], [])
    await lanes.write_outcomes(core.db, [outcome], stamp=stamp)


async def test_a_batch_named_in_the_journal_is_unknown_after_a_crash(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        bid = await approved_broadcast(core, "all", "Hi")
        first = await take(core, "A", "sending", 2)
        second = await take(core, "B", "claimed", 2)
        third = await take(core, "C", "claimed", 1)  # reserved, never named: goes back
        await journal_then_write(core, first, second)  # A answered, B left
        now = await states(core)
        assert {now[r] for r in first.ids} == {"sent"}
        assert {now[r] for r in second.ids} == {"claimed"}  # not rewritten as `sending`
        assert await journal_rows(core) == [("A", "B", True)]  # kept: it names B
        # Cancelling now keeps the rows that left (B) and cancels the reserved one (C).
        async with core.db.transaction() as tx:
            assert await outbox.cancel_queued(tx, bid, stamp=clock.now().isoformat()) == 1
        now = await states(core)
        assert {now[r] for r in second.ids} == {"claimed"}
        assert {now[r] for r in third.ids} == {"cancelled"}
    # kill -9 here: B's answer never came
    async with open_core(config, clock=clock) as core:
        assert await core.dispatcher.recover() == 2
        now = await states(core)
        assert {now[r] for r in first.ids} == {"sent"}
        assert {now[r] for r in second.ids} == {"unknown"}
        assert await journal_rows(core) == []


async def test_an_entry_is_forgotten_once_the_batch_it_names_is_written(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        await approved_broadcast(core, "all", "Hi")
        first = await take(core, "A", "sending", 2)
        second = await take(core, "B", "claimed", 2)
        await journal_then_write(core, first, second)
        third = await take(core, "C", "claimed", 1)
        await journal_then_write(core, second, third)  # B answered, C left: A's entry goes
        assert await journal_rows(core) == [("B", "C", True)]
        await journal_then_write(core, third, None)  # the last one: nothing named
        assert await journal_rows(core) == []
        assert set((await states(core)).values()) == {"sent"}
        assert await core.dispatcher.recover() == 0
