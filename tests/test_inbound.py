"""The inbound handler: keyword effects, replies, loop guard, idempotency, races and the inbox."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.contacts.phones import PhoneError
from bot.core import Core, open_core
from bot.errors import NotFound, UserError
from bot.inbound.service import InboundResult
from bot.notify import FanOut
from gateway.base import InboundSms, OutgoingMessage, RecipientResult
from gateway.simulator.gateway import SimulatorGateway
from handlers.entry import main as cli_main
from storage import audit
from tests.support import db
from tests.support.base import frozen, make_config, seed_contacts, write_config
from tests.support.recorder import Recorder

ACHIENG, BRIAN, CHEBET, DAVID, ESTHER = (f"+2547123450{i:02d}" for i in range(1, 6))
STRANGER = "+254799000111"
_ids = itertools.count(1)


async def sms(
    core: Core, sender: str, text: str, *, pid: str | None = None, gateway: str = "africastalking"
) -> InboundResult:
    """Hand one SMS to the core, as a gateway would."""
    provider_id = pid or f"ATXid_t{next(_ids)}"
    return await core.inbound.handle(InboundSms(gateway, provider_id, sender, "20880", text))


async def replies(core: Core, phone: str) -> list[dict[str, Any]]:
    return await db.outbox_rows(core.db, phone=phone, inbound_id=db.PRESENT)


async def opted_out(core: Core, phone: str) -> bool:
    contact = await core.book.contact(phone)
    assert contact is not None
    return contact.opted_out_at is not None


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def clock() -> FrozenClock:
    return frozen()


@pytest.fixture
async def core(
    tmp_path: Path, recorder: Recorder, clock: FrozenClock, request: pytest.FixtureRequest
) -> AsyncIterator[Core]:
    extra = getattr(request, "param", "")
    config = make_config(tmp_path, extra=extra, batch=2)
    gateways: dict[str, Any] = {"simulator": SimulatorGateway(delivery_delay_seconds=0)}
    async with open_core(
        config, gateways=gateways, clock=clock, notifier=FanOut([recorder])
    ) as core:
        await seed_contacts(core, tmp_path)
        for label in ("club:ict", "club:chess", "society:chess"):
            await core.book.create_group(label, joinable=True, actor="test")
        yield core
        await core.inbound.settled()


async def test_stop_opts_out_confirms_once_and_is_audited(core: Core) -> None:
    first = await sms(core, "0712 345 001", "STOP.")
    assert (first.outcome, first.action, first.language) == ("opted_out", "optout", "en")
    assert first.reply and first.reply.startswith("You will no longer get SMS from Test Univ")
    again = await sms(core, ACHIENG, "stop")
    assert again.outcome == "already_opted_out" and again.reply is None
    assert await opted_out(core, ACHIENG)
    [row] = await replies(core, ACHIENG)
    assert (row["priority"], row["ignore_optout"], row["inbound_id"]) == (0, 1, first.id)
    assert row["broadcast_id"] is None and row["state"] == "queued"
    async with core.db.read() as tx:
        entries = await audit.entries(tx, subject=ACHIENG)
    [entry] = [e for e in entries if e["action"] == "contact.optout"]
    assert entry["actor"] == "africastalking" and entry["at"] == core.clock.now().isoformat()
    assert entry["details"] == {"source": "sms", "message": "STOP.", "inbound_id": first.id}


async def test_stop_from_an_unknown_number_keeps_it_out(core: Core, tmp_path: Path) -> None:
    result = await sms(core, STRANGER, "Acha 🙏")
    assert (result.outcome, result.language) == ("opted_out", "sw")
    assert result.reply and result.reply.startswith("Hutapokea tena SMS")
    assert await opted_out(core, STRANGER)
    await seed_contacts(core, tmp_path, "Name,Phone\nLate Import,0799000111\n")
    assert await opted_out(core, STRANGER)  # importing the number later does not opt it in


async def test_start_opts_back_in_only_after_stop(core: Core) -> None:
    await sms(core, BRIAN, "stop")
    back = await sms(core, BRIAN, "Start!")
    assert back.outcome == "opted_in" and not await opted_out(core, BRIAN)
    assert back.reply and back.reply.startswith("Welcome back")
    yes = await sms(core, BRIAN, "YES")  # already subscribed: an answer, not a keyword
    assert yes.outcome == "inbox" and yes.reply is None
    anza = await sms(core, STRANGER, "anza")
    assert anza.outcome == "inbox"
    async with core.db.read() as tx:
        actions = [e["action"] for e in await audit.entries(tx, subject=BRIAN)]
    assert actions[:2] == ["contact.optin", "contact.optout"]


async def test_an_opted_out_number_is_never_opted_back_in_by_other_text(
    core: Core, recorder: Recorder
) -> None:
    await sms(core, CHEBET, "stop")
    for text in ("why did you stop?", "HELP", "join ict", "leave chess", "hello 👋"):
        result = await sms(core, CHEBET, text)
        assert (result.outcome, result.reply) == ("inbox", None), text
        assert await opted_out(core, CHEBET)
    await core.inbound.settled()
    assert len(recorder.messages) == 5 and all(m.opted_out for m in recorder.messages)
    assert len(await replies(core, CHEBET)) == 1  # only the STOP confirmation
    memberships = await db.group_labels(core.db, CHEBET)
    assert sorted(r["label"] for r in memberships) == ["club:chess", "dept:computing"]


@pytest.mark.parametrize(
    ("sender", "text", "outcome", "reply"),
    [
        (ESTHER, "JOIN ICT", "joined", "You have joined club:ict. Reply LEAVE ict to leave."),
        (ESTHER, "join club:ict", "joined", "You have joined club:ict. Reply LEAVE ict to leave."),
        (ESTHER, "jiunge ict", "joined", "Umejiunga na club:ict. Tuma TOKA ict kuondoka."),
        (ACHIENG, "join ict", "already_member", "You are already in club:ict."),
        (ESTHER, "join chess", "ambiguous_group",
         "Which one? club:chess, society:chess. Reply JOIN with the full name."),
        (ESTHER, "join society:chess", "joined",
         "You have joined society:chess. Reply LEAVE society:chess to leave."),
        (ESTHER, "join drama", "no_such_group",
         "No group drama. Groups you can join: club:chess, club:ict, society:chess"),
        (ESTHER, "join dept:computing", "no_such_group",  # exists, but is not joinable
         "No group dept:computing. Groups you can join: club:chess, club:ict, society:chess"),
        (ESTHER, "JOIN", "join_usage",
         "Reply JOIN <group>. Groups you can join: club:chess, club:ict, society:chess"),
        (ESTHER, "jiunge", "join_usage",
         "Tuma JIUNGE <kikundi>. Vikundi: club:chess, club:ict, society:chess"),
        (ACHIENG, "Leave ICT.", "left", "You have left club:ict."),
        (ACHIENG, "toka ict", "left", "Umeondoka kwenye club:ict."),
        (ESTHER, "leave ict", "not_member",
         "You are not in club:ict. Your groups: club:drama, dept:engineering"),
        (CHEBET, "leave chess", "left", "You have left club:chess."),  # the one she is in
        (ESTHER, "leave chess", "ambiguous_group",
         "Which one? club:chess, society:chess. Reply LEAVE with the full name."),
        (ACHIENG, "LEAVE", "leave_usage",
         "Reply LEAVE <group>. Your groups: club:ict, dept:computing"),
        (ESTHER, "toka", "leave_usage",
         "Tuma TOKA <kikundi>. Vikundi vyako: club:drama, dept:engineering"),
        (STRANGER, "toka", "leave_usage", "Tuma TOKA <kikundi>. Vikundi vyako: hakuna"),
        # imported into groups nobody may JOIN: LEAVE still takes them out
        (CHEBET, "leave computing", "left", "You have left dept:computing."),
        (CHEBET, "LEAVE dept:computing", "left", "You have left dept:computing."),
        (CHEBET, "leave dept computing", "left", "You have left dept:computing."),
        (DAVID, "toka engineering", "left", "Umeondoka kwenye dept:engineering."),
        # not in it: said without telling whether a group they are not in exists
        (ESTHER, "leave dept:computing", "not_member",
         "You are not in dept:computing. Your groups: club:drama, dept:engineering"),
        (ESTHER, "leave hockey", "not_member",
         "You are not in hockey. Your groups: club:drama, dept:engineering"),
        (STRANGER, "toka hockey", "not_member", "Hauko kwenye hockey. Vikundi vyako: hakuna"),
        (ESTHER, "help", "help",
         "Test University SMS alerts. Help: Test University. Reply STOP to opt out, JOIN "
         "<group> to join."),
        (ESTHER, "Saidia!", "help",
         "Huduma ya SMS ya Test University. Msaada: Test University. Tuma ACHA kusitisha."),
    ],
)  # fmt: skip
async def test_join_leave_help_replies(
    core: Core, sender: str, text: str, outcome: str, reply: str
) -> None:
    result = await sms(core, sender, text)
    assert (result.outcome, result.reply) == (outcome, reply)
    [row] = await replies(core, sender)
    assert (row["text"], row["ignore_optout"], row["priority"]) == (reply, 0, 0)


async def test_join_changes_membership_and_creates_unknown_contacts(core: Core) -> None:
    result = await sms(core, STRANGER, "JOIN club:ict")
    assert result.outcome == "joined" and result.contact_id is not None
    contact = await core.book.contact(STRANGER)
    assert contact is not None and contact.groups == ("club:ict",)
    assert contact.opted_out_at is None
    await sms(core, STRANGER, "leave ict")
    contact = await core.book.contact(STRANGER)
    assert contact is not None and contact.groups == ()
    async with core.db.read() as tx:
        actions = [e["action"] for e in await audit.entries(tx, subject=STRANGER)]
    assert actions == ["group.leave", "group.join"]
    source = await db.table_rows(core.db, "memberships", "source", source="sms", order=None)
    assert source == []  # left again


async def test_leave_takes_a_member_out_of_any_group_they_are_in(
    core: Core, tmp_path: Path
) -> None:
    faith = "+254712345006"
    await seed_contacts(core, tmp_path, "Name,Phone,Department\nFaith Akinyi,0712345006,ICT\n")
    joined = await sms(core, faith, "join ict")  # club:ict; she is also in dept:ict
    assert joined.reply == "You have joined club:ict. Reply LEAVE club:ict to leave."
    both = await sms(core, faith, "leave ict")
    assert (both.outcome, both.reply) == (
        "ambiguous_group", "Which one? club:ict, dept:ict. Reply LEAVE with the full name."
    )  # fmt: skip
    left = await sms(core, faith, "LEAVE dept:ict")
    assert (left.outcome, left.reply) == ("left", "You have left dept:ict.")
    contact = await core.book.contact(faith)
    assert contact is not None and contact.groups == ("club:ict",)
    again = await sms(core, faith, "leave dept:ict")  # no longer hers, and nobody may JOIN it
    assert (again.outcome, again.reply) == (
        "not_member", "You are not in dept:ict. Your groups: club:ict"
    )  # fmt: skip
    rejoin = await sms(core, faith, "join dept:ict")
    assert rejoin.outcome == "no_such_group"
    assert (await sms(core, faith, "leave ict")).outcome == "left"  # (past the loop guard)
    contact = await core.book.contact(faith)
    assert contact is not None and contact.groups == ()
    async with core.db.read() as tx:
        entries = await audit.entries(tx, subject=faith)
    assert [(e["action"], e["details"]["group"]) for e in entries if e["action"] != "import"] == [
        ("group.leave", "club:ict"),
        ("group.leave", "dept:ict"),
        ("group.join", "club:ict"),
    ]


@pytest.mark.parametrize(
    "core",
    [
        """
        [keywords]
        help_contact = "0700 111222"
        [keywords.replies.sw]
        help = "{org}: piga {contact}."
        """
    ],
    indirect=True,
)
async def test_reply_texts_are_configurable_per_language(core: Core) -> None:
    en = await sms(core, ESTHER, "help")
    sw = await sms(core, DAVID, "msaada")
    assert en.reply == (
        "Test University SMS alerts. Help: 0700 111222. Reply STOP to opt out, JOIN <group> "
        "to join."
    )
    assert sw.reply == "Test University: piga 0700 111222."


@pytest.mark.parametrize("core", ["[keywords]\nmax_auto_replies_per_hour = 3\n"], indirect=True)
async def test_loop_guard_suppresses_replies_but_not_actions(
    core: Core, clock: FrozenClock
) -> None:
    results = [await sms(core, DAVID, "help") for _ in range(5)]
    assert [r.reply is not None for r in results] == [True, True, True, False, False]
    assert [r.reply_suppressed for r in results] == [False, False, False, True, True]
    stop = await sms(core, DAVID, "STOP")
    assert await opted_out(core, DAVID)  # a STOP is always obeyed
    # ... and always confirmed, once: the confirmation is the last message the number gets
    assert stop.outcome == "opted_out" and not stop.reply_suppressed
    assert stop.reply and stop.reply.startswith("You will no longer get SMS")
    sent = await replies(core, DAVID)
    assert len(sent) == 4 and (sent[-1]["inbound_id"], sent[-1]["ignore_optout"]) == (stop.id, 1)
    again = await sms(core, DAVID, "STOP")
    assert again.outcome == "already_opted_out" and again.reply is None
    start = await sms(core, DAVID, "start")  # the confirmation still counts towards the guard
    assert start.outcome == "opted_in" and start.reply is None and start.reply_suppressed
    assert len(await replies(core, DAVID)) == 4
    await sms(core, DAVID, "stop")
    clock.advance(3601)
    back = await sms(core, DAVID, "start")
    assert back.outcome == "opted_in" and back.reply is not None
    other = await sms(core, ESTHER, "help")  # the guard is per number
    assert other.reply is not None


async def test_loop_guard_holds_within_one_batch(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="[keywords]\nmax_auto_replies_per_hour = 2\n")
    async with open_core(config, clock=frozen()) as core:
        results = await asyncio.gather(*(sms(core, ESTHER, "help") for _ in range(6)))
    assert sum(r.reply is not None for r in results) == 2


async def test_loop_guard_lets_a_stop_confirmation_through_within_one_batch(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, extra="[keywords]\nmax_auto_replies_per_hour = 2\n")
    async with open_core(config, clock=frozen()) as core:
        texts = ["help"] * 4 + ["stop", "start", "stop"]
        results = await asyncio.gather(*(sms(core, ESTHER, t) for t in texts))
    assert [r.outcome for r in results[4:]] == ["opted_out", "opted_in", "opted_out"]
    replied = [r.reply is not None for r in results]
    assert replied == [True, True, False, False, True, False, True]  # each STOP is confirmed


async def test_a_retried_message_is_processed_once(core: Core) -> None:
    first = await sms(core, ESTHER, "JOIN ict", pid="ATXid_same")
    again = await sms(core, ESTHER, "JOIN ict", pid="ATXid_same")
    assert not first.duplicate and again.duplicate and again.id == first.id
    assert again.outcome == "duplicate" and again.reply is None
    same_batch = await asyncio.gather(*(sms(core, BRIAN, "stop", pid="ATXid_x") for _ in range(5)))
    assert sum(not r.duplicate for r in same_batch) == 1
    assert len({r.id for r in same_batch}) == 1
    other_gateway = await sms(core, BRIAN, "hello", pid="ATXid_x", gateway="modem")
    assert not other_gateway.duplicate
    assert len(await replies(core, ESTHER)) == 1 and len(await replies(core, BRIAN)) == 1
    assert len(await db.inbound_rows(core.db, "id")) == 3


async def test_bad_input_is_refused_before_anything_is_stored(core: Core) -> None:
    with pytest.raises(PhoneError, match="sender '12'"):
        await sms(core, "12", "stop")
    with pytest.raises(UserError, match="5001 characters"):
        await sms(core, ESTHER, "a" * 5001)
    with pytest.raises(UserError, match="no id"):
        await core.inbound.handle(InboundSms("africastalking", "", ESTHER, "20880", "hi"))
    assert await db.inbound_rows(core.db, "id") == []


async def test_a_batch_decides_like_one_at_a_time(tmp_path: Path) -> None:
    script = [
        (ACHIENG, "stop"), (ACHIENG, "start"), (BRIAN, "join chess"), (BRIAN, "join club:chess"),
        (BRIAN, "leave chess"), (STRANGER, "stop"), (STRANGER, "hello"), (STRANGER, "anza"),
        (CHEBET, "hi"), (CHEBET, "stop"), (CHEBET, "join ict"), (ESTHER, "JOIN ict"),
        (ESTHER, "join ict"), (ACHIENG, "help"), (DAVID, "leave engineering"),
        (DAVID, "toka engineering"), (DAVID, "leave"), (ESTHER, "leave ict"),
        (ESTHER, "leave ict"), (ESTHER, "leave engineering"),
    ]  # fmt: skip
    outcomes = []
    for mode in ("sequential", "batched"):
        folder = tmp_path / mode
        folder.mkdir()
        config = make_config(folder)
        async with open_core(config, clock=frozen()) as core:
            await seed_contacts(core, folder)
            for label in ("club:ict", "club:chess", "society:chess"):
                await core.book.create_group(label, joinable=True, actor="test")
            messages = [
                InboundSms("africastalking", f"id{i}", s, "20880", t)
                for i, (s, t) in enumerate(script)
            ]
            if mode == "sequential":
                results = [await core.inbound.handle(m) for m in messages]
            else:
                results = list(await asyncio.gather(*map(core.inbound.handle, messages)))
            state = await db.address_book(core.db)
            sent = await db.outbox_rows(core.db, "phone", "text", "inbound_id")
        outcomes.append(([(r.outcome, r.reply) for r in results], state, sent))
    assert outcomes[0] == outcomes[1]


async def test_one_failing_message_does_not_fail_its_batch(core: Core) -> None:
    await db.poison_inbound(core.db, "poison")  # a real failure: the database refuses one row
    texts = ["stop", "poison", "help", "hello"]
    senders = [ACHIENG, BRIAN, CHEBET, DAVID]
    results = await asyncio.gather(
        *(sms(core, s, t) for s, t in zip(senders, texts, strict=True)), return_exceptions=True
    )
    assert isinstance(results[1], sqlite3.IntegrityError) and "disk on fire" in str(results[1])
    assert [getattr(r, "outcome", None) for r in results] == ["opted_out", None, "help", "inbox"]
    stored = await db.inbound_rows(core.db, "text")
    assert [r["text"] for r in stored] == ["stop", "help", "hello"]


class StopDuringSend(SimulatorGateway):
    """A simulator whose first request waits while recipients text STOP."""

    def __init__(self) -> None:
        super().__init__(delivery_delay_seconds=0)
        self.during_first: Any = None
        self.requests = 0

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        self.requests += 1
        if self.requests == 1 and self.during_first is not None:
            await self.during_first(message)
        return await super().send(message)


async def test_stop_during_a_broadcast_skips_the_rest_of_it(tmp_path: Path) -> None:
    config = make_config(tmp_path, batch=2)
    gw = StopDuringSend()
    async with open_core(config, gateways={"simulator": gw}, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        stopped: set[str] = set()

        async def recipients_text_stop(message: OutgoingMessage) -> None:
            # Wait (briefly) for the dispatcher to reserve the next batch while this request
            # is in flight, then STOP one number of that batch and one still queued.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while not await db.outbox_rows(core.db, "id", state="claimed"):
                        await asyncio.sleep(0.005)
            claimed = await db.outbox_rows(core.db, "phone", state="claimed")
            targets = {r["phone"] for r in claimed[:1]} | {ESTHER}
            for phone in sorted(targets - set(message.recipients)):
                assert (await sms(core, phone, "STOP")).outcome == "opted_out"
                stopped.add(phone)

        gw.during_first = recipients_text_stop
        people = core.config.people
        view = await core.broadcasts.compose(
            audience="all", message="Exam moved to Hall B", requester=people["registrar"]
        )
        await core.broadcasts.approve(view.id, person=people["dean"])
        while await core.dispatcher.run_once("simulator", gw):
            pass
        assert ESTHER in stopped and len(stopped) == 2
        for phone in stopped:
            texts = [s.text for s in gw.sent if s.phone == phone]
            assert texts == [
                core.config.keywords.replies["en"]["optout"].format(org="Test University")
            ], phone  # the confirmation only
        skipped = await db.outbox_rows(
            core.db, "phone", "error", broadcast_id=view.id, state="skipped"
        )
        assert {r["phone"] for r in skipped} == stopped
        assert {r["error"] for r in skipped} == {"opted out before sending"}
        counts = (await core.broadcasts.view(view.id)).counts
        assert (counts.sent, counts.skipped) == (3, 2)


async def test_replies_jump_the_bulk_queue(core: Core) -> None:
    gw = core.dispatcher.gateways["simulator"]
    assert isinstance(gw, SimulatorGateway)
    people = core.config.people
    view = await core.broadcasts.compose(
        audience="all", message="Library closes at 6", requester=people["registrar"]
    )
    await core.broadcasts.approve(view.id, person=people["dean"])
    help_reply = (await sms(core, ESTHER, "help")).reply
    while await core.dispatcher.run_once("simulator", gw):
        pass
    assert gw.sent[0].text == help_reply and gw.sent[0].phone == ESTHER
    assert len(gw.sent) == 6


async def test_inbox_links_contact_and_last_broadcast(core: Core, recorder: Recorder) -> None:
    gw = core.dispatcher.gateways["simulator"]
    people = core.config.people
    view = await core.broadcasts.compose(
        audience="club:ict", message="ICT club meets at 4", requester=people["registrar"]
    )
    await core.broadcasts.approve(view.id, person=people["dean"])
    while await core.dispatcher.run_once("simulator", gw):
        pass
    answer = await sms(core, ACHIENG, "Will there be snacks?")
    stranger = await sms(core, STRANGER, "Who is this?")
    assert answer.outcome == "inbox" and answer.broadcast_id == view.id
    assert stranger.outcome == "inbox" and stranger.broadcast_id is None
    assert stranger.contact_id is None  # strangers are not added to the address book
    await core.inbound.settled()
    first, second = recorder.messages
    assert (first.id, first.phone, first.name, first.text) == (
        answer.id, ACHIENG, "Achieng Otieno", "Will there be snacks?"
    )  # fmt: skip
    assert first.groups == ("club:ict", "dept:computing") and first.broadcast_id == view.id
    assert (second.phone, second.name, second.groups) == (STRANGER, "", ())
    listed = await core.inbound.inbox()
    assert [r.id for r in listed] == [stranger.id, answer.id]
    assert await core.inbound.mark_read(answer.id) is True
    assert await core.inbound.mark_read(answer.id) is False
    assert [r.id for r in await core.inbound.inbox(unread_only=True)] == [stranger.id]
    with pytest.raises(NotFound):
        await core.inbound.mark_read(9999)
    linked = await db.count_rows(core.db, "inbound", broadcast_id=view.id)
    assert linked == 1  # counts towards the broadcast's response rate


async def _seed(config_path: Path) -> None:
    async with open_core(make_config(config_path.parent)) as core:
        await seed_contacts(core, config_path.parent)


async def _after_stop(config_path: Path) -> set[str]:
    """Check the opt-outs and the queued confirmation; return who the next broadcast reaches."""
    async with open_core(make_config(config_path.parent)) as core:
        assert await opted_out(core, ACHIENG) and await opted_out(core, "+254712345678")
        [confirmation] = await replies(core, ACHIENG)
        assert confirmation["ignore_optout"] == 1 and confirmation["state"] == "queued"
        people = core.config.people
        view = await core.broadcasts.compose(
            audience="all", message="Fees due Friday", requester=people["registrar"]
        )
        await core.broadcasts.approve(view.id, person=people["dean"])
        bulk = await db.outbox_rows(core.db, "phone", broadcast_id=view.id)
    return {r["phone"] for r in bulk}


def test_simulator_cli_stop_then_next_broadcast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path)
    asyncio.run(_seed(config_path))
    cfg = ["--config", str(config_path)]
    assert cli_main([*cfg, "simulate", "inbound", "--from", "0712345678", "stop."]) == 0
    assert cli_main([*cfg, "simulate", "inbound", "--from", "0712345001", "stop."]) == 0
    out = capsys.readouterr().out
    assert "from +254712345001: opted out (optout, en); reply queued: You will no longer" in out
    assert cli_main([*cfg, "simulate", "inbound", "--from", "0712345002", "hi", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["outcome"], data["phone"], data["reply"]) == ("inbox", BRIAN, None)
    phones = asyncio.run(_after_stop(config_path))
    assert ACHIENG not in phones and "+254712345678" not in phones and len(phones) == 4
    assert cli_main([*cfg, "inbox", "list", "--unread"]) == 0
    listing = capsys.readouterr().out
    assert "Brian Kiprotich (+254712345002) [unread]: hi" in listing
    assert cli_main([*cfg, "inbox", "read", str(data["id"])]) == 0
    assert cli_main([*cfg, "inbox", "list", "--unread", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == []
    assert cli_main([*cfg, "inbox", "read", "999"]) == 1
    assert cli_main([*cfg, "simulate", "inbound", "--from", "12", "stop"]) == 1
    assert "sender '12'" in capsys.readouterr().err
