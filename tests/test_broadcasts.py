"""The broadcast lifecycle in the core: previews, four-eyes approval, freezing, cancel, expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core import open_core
from bot.errors import UserError
from storage import outbox
from tests.support import db
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.lanes import claim_request


async def test_preview_counts_encoding_cost_and_sample(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        await core.book.set_consent("0712345002", opted_out=True, source="sms", actor="t")
        view = await core.broadcasts.compose(
            audience="club:ict",
            message="Exam tomorrow at 9, {first_name}",
            requester=config.people["registrar"],
        )
    p = view.preview
    assert (p.matched, p.opted_out, p.recipients) == (2, 1, 1)
    assert p.encoding == "GSM-7" and p.segments_per_message == 1
    assert p.sample == "Exam tomorrow at 9, Achieng"
    assert p.cost == 0.8 and p.currency == "KES"
    assert view.state == "draft"  # below the approval threshold of 3


async def test_curly_quote_is_named_and_costs_more(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        text = "Don’t miss the " + "x" * 70
        view = await core.broadcasts.compose(
            audience="all", message=text, requester=config.people["registrar"]
        )
    p = view.preview
    assert p.encoding == "UCS-2" and p.ucs2_chars == ("’",)
    assert p.segments_per_message == 2 and p.total_segments == 10
    assert view.state == "awaiting_approval"


async def test_promo_footer_is_added_and_counted(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="club:chess",
            message="x" * 150,
            requester=config.people["registrar"],
            kind="promo",
        )
    assert view.preview.sample.endswith("\nSTOP to opt out")
    assert view.preview.segments_per_message == 2


@pytest.mark.parametrize(
    ("audience", "message", "error"),
    [
        ("club:itc", "hi", "no group club:itc — did you mean club:ict?"),
        ("club:ict", "Hi {nmae}", "unknown placeholder {nmae}; valid ones: {first_name}"),
        ("club:ict", "Hi {name!r}", "unknown placeholder {name}"),
        ("club:ict", "Hi {0.__class__}", "unknown placeholder {0.__class__}"),
        ("club:ict", "   ", "the message is empty"),
        ("-club:ict", "hi", "the audience only excludes"),
        ("banana", "hi", "'banana' is not a group"),
        ("0712", "hi", "0712: too short"),
    ],
)
async def test_compose_errors_say_how_to_fix(
    tmp_path: Path, audience: str, message: str, error: str
) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        with pytest.raises(UserError) as err:
            await core.broadcasts.compose(
                audience=audience, message=message, requester=config.people["registrar"]
            )
    assert error in str(err.value)


async def test_audience_union_exclusion_and_numbers(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        reg = config.people["registrar"]
        union = await core.broadcasts.compose(
            audience="club:ict,club:chess", message="hi", requester=reg
        )
        minus = await core.broadcasts.compose(
            audience="dept:computing -club:chess", message="hi", requester=reg
        )
        nums = await core.broadcasts.compose(
            audience="club:drama 0799 000 111, +254 712 345 001", message="hi", requester=reg
        )
        everyone = await core.broadcasts.compose(audience="all", message="hi", requester=reg)
    assert union.preview.recipients == 4
    assert minus.preview.recipients == 2
    assert nums.preview.recipients == 3  # Esther + a new number + Achieng
    assert everyone.preview.recipients == 6  # five seeded + the literal new number


async def test_self_approval_refused_and_approver_freezes_list(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="all", message="Hi {first_name}", requester=config.people["dean"]
        )
        mine = await core.broadcasts.approve(view.id, person=config.people["dean"])
        assert mine.outcome == "refused" and mine.forbidden
        assert "your own" in mine.message
        staff = await core.broadcasts.approve(view.id, person=config.people["registrar"])
        assert staff.outcome == "refused" and "only approvers" in staff.message
        ok = await core.broadcasts.approve(view.id, person=config.people["bursar"])
        assert ok.outcome == "approved" and ok.view.recipients == 5
        again = await core.broadcasts.approve(view.id, person=config.people["ict-admin"])
        assert again.outcome == "refused" and "already approved" in again.message
        rows = await db.outbox_rows(core.db, "phone", "text")
        assert len(rows) == 5 and rows[0]["text"] == "Hi Achieng"


async def test_two_approvers_above_second_threshold(tmp_path: Path) -> None:
    config = make_config(tmp_path, second=4)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="all", message="hi", requester=config.people["registrar"]
        )
        assert view.approvals_needed == 2
        first = await core.broadcasts.approve(view.id, person=config.people["dean"])
        assert first.outcome == "waiting"
        twice = await core.broadcasts.approve(view.id, person=config.people["dean"])
        assert twice.outcome == "refused"
        second = await core.broadcasts.approve(view.id, person=config.people["bursar"])
        assert second.outcome == "approved"


async def test_expired_and_cancelled_cannot_be_approved(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        reg = config.people["registrar"]
        a = await core.broadcasts.compose(audience="all", message="a", requester=reg)
        b = await core.broadcasts.compose(audience="all", message="b", requester=reg)
        cancel = await core.broadcasts.cancel(b.id, person=reg)
        assert cancel.outcome == "cancelled"
        late = await core.broadcasts.approve(b.id, person=config.people["dean"])
        assert late.outcome == "refused" and "cancelled" in late.message
        clock.advance(61 * 60)
        expired = await core.broadcasts.approve(a.id, person=config.people["dean"])
        assert expired.outcome == "refused" and "expired" in expired.message
        assert await core.broadcasts.expire_due() == [a.id]
        assert (await core.broadcasts.view(a.id)).state == "expired"
        assert await db.count_rows(core.db, "outbox") == 0


async def test_concurrent_approvals_give_one_outcome(tmp_path: Path) -> None:
    import asyncio

    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="all", message="hi", requester=config.people["registrar"]
        )
        results = await asyncio.gather(
            core.broadcasts.approve(view.id, person=config.people["dean"]),
            core.broadcasts.approve(view.id, person=config.people["bursar"]),
            core.broadcasts.approve(view.id, person=config.people["dean"]),
        )
        outcomes = sorted(r.outcome for r in results)
        assert outcomes == ["approved", "refused", "refused"]
        assert await db.count_rows(core.db, "outbox") == 5


async def test_opt_out_after_approval_is_skipped_at_send_time(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="club:ict", message="hi", requester=config.people["registrar"]
        )
        await core.broadcasts.approve(view.id, person=config.people["registrar"])
        await core.book.set_consent("0712345001", opted_out=True, source="sms", actor="t")
        async with core.db.transaction() as tx:
            batch = await outbox.claim(tx, claim_request(core, "b1"))
        assert batch is not None and batch.phones == ("+254712345002",)
        counts = (await core.broadcasts.view(view.id)).counts
        assert counts.skipped == 1


async def test_promo_waits_for_quiet_hours_to_end(tmp_path: Path) -> None:
    config = make_config(tmp_path, quiet_start="18:00", quiet_end="08:00")
    clock = frozen("2026-11-20T17:00:00+00:00")  # 20:00 in Nairobi
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        view = await core.broadcasts.compose(
            audience="club:ict", message="Sale!", requester=config.people["registrar"], kind="promo"
        )
        await core.broadcasts.approve(view.id, person=config.people["registrar"])
        when = await db.earliest_attempt(core.db)
    from datetime import datetime

    assert datetime.fromtimestamp(when, config.timezone).hour == 8
