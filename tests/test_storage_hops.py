"""The hot paths' transactions each take one hop to the database thread, however many
statements they hold: lane claims and promotions, journal writes, inbound batches and
delivery reports."""

from __future__ import annotations

from pathlib import Path

from bot.core import open_core
from gateway.base import InboundSms
from storage.outbox import journal, lanes
from storage.outbox.delivery_reports import apply_delivery
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.lanes import accepted_plan, claim_request
from tests.support.rig import approved_broadcast


async def test_a_lanes_transactions_each_take_one_hop(tmp_path: Path) -> None:
    async with open_core(make_config(tmp_path), clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        await approved_broadcast(core, "all", "Hi")
        stamp = core.clock.now().isoformat()
        hops = core.db.hops
        first = await lanes.claim(core.db, claim_request(core, "A", state="sending", limit=2))
        assert first is not None and len(first.ids) == 2
        assert core.db.hops == hops + 1
        second = await lanes.claim(core.db, claim_request(core, "B", state="claimed", limit=2))
        assert second is not None

        hops = core.db.hops
        plan = accepted_plan(first)
        answer = lanes.Answer(first.batch_id, "simulator", first.broadcast_id, plan)
        urgent = claim_request(core, "U", state="sending", limit=1)  # none waiting: B leaves
        following = await lanes.promote(core.db, second, answer, stamp=stamp, urgent=urgent)
        assert following == second
        assert core.db.hops == hops + 1

        hops = core.db.hops
        outcome = lanes.Outcome("simulator", first.batch_id, plan.sent, [], [])
        claim = claim_request(core, "C", state="claimed", limit=1)
        clashes, third = await lanes.write_outcomes(core.db, [outcome], stamp=stamp, claim=claim)
        assert clashes == [] and third is not None and len(third.ids) == 1
        assert core.db.hops == hops + 1
        async with core.db.read() as tx:
            assert [(e.batch_id, e.next_batch_id) for e in await journal.pending(tx)] == [
                ("A", "B")
            ]


async def test_an_inbound_batch_and_a_delivery_report_each_take_one_hop(tmp_path: Path) -> None:
    async with open_core(make_config(tmp_path), clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        hops = core.db.hops
        sms = InboundSms("africastalking", "in-1", "+254712345001", "20880", "STOP")
        result = await core.inbound.handle(sms)
        assert result.outcome == "opted_out"
        assert core.db.hops == hops + 1

        hops = core.db.hops
        stamp = core.clock.now().isoformat()
        report = await apply_delivery(
            core.db,
            gateway="simulator",
            provider_id="nobody",
            status="delivered",
            provider_status="Success",
            stamp=stamp,
        )
        assert report is None  # no such message
        assert core.db.hops == hops + 1
