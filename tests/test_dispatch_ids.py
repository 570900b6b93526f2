"""Provider ids: unique across simulator processes, and a collision never aborts a settle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core import Core, open_core
from gateway.base import OutgoingMessage
from gateway.simulator.gateway import SimulatorGateway
from storage import outbox
from storage.outbox import SettlePlan, journal
from tests.support import db
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.lanes import claim_request
from tests.support.rig import approved_broadcast


async def rows(core: Core) -> list[dict[str, object]]:
    return await db.outbox_rows(core.db, "id", "broadcast_id", "state", "provider_id", "error")


def same_id(pid: str) -> Callable[[], str]:
    return lambda: pid


async def test_default_ids_differ_between_instances() -> None:
    first, second = SimulatorGateway(), SimulatorGateway()
    message = OutgoingMessage(text="hi", recipients=("+254712345001",), sender_id=None)
    a = (await first.send(message))[0].provider_id
    b = (await second.send(message))[0].provider_id
    assert a and b and a != b and a.startswith("SIM")


async def test_two_simulator_processes_on_one_database_never_collide(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    for run, text in enumerate(("Before the restart", "After the restart")):
        sim = SimulatorGateway(delivery_delay_seconds=0)  # a fresh process: a fresh gateway
        async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
            if run == 0:
                await seed_contacts(core, tmp_path)
            bid = await approved_broadcast(core, "all", text)
            assert await core.dispatcher.run_once("simulator", sim)
            assert (await core.broadcasts.view(bid)).state == "done"
            assert len(sim.sent) == 5
    async with open_core(config, clock=clock) as core:
        found = await rows(core)
    assert len(found) == 10
    assert {r["state"] for r in found} == {"sent"}
    ids = [r["provider_id"] for r in found]
    assert None not in ids and len(set(ids)) == 10  # every row linked to its own id


@pytest.mark.parametrize("batch", [100, 2])  # settled at once; settled through the journal
async def test_colliding_provider_id_is_sent_unlinked_and_never_resent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, batch: int
) -> None:
    config = make_config(tmp_path, batch=batch)
    sim = SimulatorGateway(delivery_delay_seconds=0, new_id=same_id("SIM-SAME"))
    async with open_core(config, gateways={"simulator": sim}, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        bid = await approved_broadcast(core, "all", "Exam at 9")
        with caplog.at_level(logging.WARNING, logger="bot.dispatch.settle"):
            assert await core.dispatcher.run_once("simulator", sim)
        assert not await core.dispatcher.run_once("simulator", sim)  # nothing left to send
        view = await core.broadcasts.view(bid)
        found = await rows(core)
    assert len(sim.sent) == 5  # each recipient exactly once
    assert view.state == "done" and view.counts.sent == 5
    assert {r["state"] for r in found} == {"sent"}
    linked = [r for r in found if r["provider_id"] == "SIM-SAME"]
    unlinked = [r for r in found if r["provider_id"] is None]
    assert len(linked) == 1 and len(unlinked) == 4
    assert all("SIM-SAME" in str(r["error"]) for r in unlinked)
    assert sum("SIM-SAME" in r.getMessage() for r in caplog.records) == 4


async def test_colliding_journal_entry_is_applied_at_restart(tmp_path: Path) -> None:
    """A journaled outcome naming a taken id must not stop recovery (and so the server)."""
    config = make_config(tmp_path)
    clock = frozen()
    ids = iter(f"SIM-{n}" for n in range(1, 100))
    sim = SimulatorGateway(delivery_delay_seconds=0, new_id=lambda: next(ids))
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        await approved_broadcast(core, "all", "First")
        assert await core.dispatcher.run_once("simulator", sim)
        second = await approved_broadcast(core, "all", "Second")
        stamp = clock.now().isoformat()
        async with core.db.transaction() as tx:  # what a kill -9 after journaling leaves
            claimed = await outbox.claim(tx, claim_request(core, "b2"))
            assert claimed is not None and len(claimed.ids) == 5
            plan = SettlePlan(
                sent=[(rid, f"SIM-{n}", "Success", 0.8) for n, rid in enumerate(claimed.ids, 1)]
            )
            await tx.run(
                journal.add_in,
                batch_id="b2",
                gateway="simulator",
                broadcast_id=second,
                outcome=plan,
                next_batch_id=None,
                stamp=stamp,
            )
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        assert await core.dispatcher.recover() == 0  # nothing in flight: the journal said
        view = await core.broadcasts.view(second)
        found = [r for r in await rows(core) if r["broadcast_id"] == second]
        assert await db.count_rows(core.db, "send_journal") == 0
    assert view.counts.sent == 5 and view.counts.unknown == 0
    assert all(r["state"] == "sent" and r["provider_id"] is None for r in found)
    assert len(sim.sent) == 5  # the second broadcast was never sent again
