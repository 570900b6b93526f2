"""Inbound messages some of whose parts never came, and text no decoder could read, in the inbox."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from argparse import Namespace
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli.inbound import inbox_list_cmd, simulate_inbound_cmd
from bot.core import Core, open_core
from bot.notify import FanOut
from gateway.base import InboundSms
from gateway.modem.intake import Intake
from gateway.modem.reassembly import Reassembler
from gateway.modem.reports import ReportTracker
from handlers.chat.cards import inbox_message
from storage.db import SCHEMA_VERSION, Database
from storage.migrations import MIGRATIONS
from tests.fakes.modem_pdus import build_deliver
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.db import inbound_rows
from tests.support.recorder import Recorder

BRIAN = "+254712345002"
WHEN = datetime.fromisoformat("2026-11-20T10:00:00+03:00")
NOTE = "(incomplete: some parts never arrived)"


def inbox_list(tmp_path: Path, *, as_json: bool) -> int:
    """`smsops inbox list [--json]` on the test config (the command's own handler)."""
    args = Namespace(unread=False, limit=50, json=as_json)
    return asyncio.run(inbox_list_cmd(args, make_config(tmp_path)))


def test_migration_to_the_incomplete_flag_keeps_stored_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_config(tmp_path).database_path
    before = 4  # the schema a running instance has before this upgrade (V5)
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:before]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version={before}")
    conn.execute(
        "INSERT INTO inbound (id, gateway, provider_id, sender, recipient, text, received_at, "
        "stored_at, outcome) VALUES (7, 'modem', 'm1-old', ?, 'm1', 'kept as it was', "
        "'2026-11-19T08:00:00+00:00', '2026-11-19T08:00:01+00:00', 'inbox')",
        (BRIAN,),
    )
    conn.commit()
    conn.close()
    assert inbox_list(tmp_path, as_json=True) == 0  # opening the database upgrades it
    [message] = json.loads(capsys.readouterr().out)
    assert (message["id"], message["text"], message["incomplete"]) == (7, "kept as it was", False)

    async def check() -> None:
        db = await Database.open(path, migrate=False)
        try:
            assert await db.schema_version() == SCHEMA_VERSION
            [row] = await inbound_rows(db)
        finally:
            await db.close()
        assert (row["provider_id"], row["received_at"]) == ("m1-old", "2026-11-19T08:00:00+00:00")
        assert row["incomplete"] == 0

    asyncio.run(check())


async def _modem_parts(core: Core) -> None:
    """Parts 1 and 3 of a three-part message reach the modem intake; part 2 never comes."""
    now = [0.0]
    intake = Intake(
        modem_id="m1",
        gateway="modem",
        on_inbound=core.inbound.handle_received,  # the app's own wiring
        on_report=None,
        tracker=ReportTracker(gateway="modem"),
        reassembler=Reassembler(timeout_seconds=60, monotonic=lambda: now[0]),
    )
    for seq, text in ((1, "Fees are due on "), (3, " at the bursar.")):
        intake.direct_deliver(build_deliver(BRIAN, text, when=WHEN, concat=(7, 3, seq, 8)), None)
    async with asyncio.timeout(5):
        while intake.reassembler.held < 2:
            await asyncio.sleep(0.01)
    await intake.expire(None)
    assert intake.received == 0  # not yet: the missing part may still come
    now[0] = 61.0
    await intake.expire(None)
    assert intake.received == 1


async def test_an_incomplete_message_is_flagged_in_the_inbox(tmp_path: Path) -> None:
    recorder = Recorder()
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen(), notifier=FanOut([recorder])) as core:
        await seed_contacts(core, tmp_path)
        await _modem_parts(core)
        whole = await core.inbound.handle(InboundSms("modem", "m1-whole", BRIAN, "m1", "Thanks"))
        await core.inbound.settled()
        listed = await core.inbound.inbox()
    assert [(r.id, r.incomplete) for r in listed] == [(whole.id, False), (listed[1].id, True)]
    cut = listed[1]
    assert cut.text == "Fees are due on  at the bursar." and cut.gateway == "modem"
    assert cut.as_json()["incomplete"] is True and listed[0].as_json()["incomplete"] is False
    first, second = recorder.messages  # the chat inbox card
    assert first.incomplete and not second.incomplete
    assert NOTE in inbox_message(first).lines and NOTE not in inbox_message(second).lines


def test_the_cli_inbox_list_shows_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def receive() -> None:
        async with open_core(make_config(tmp_path)) as core:
            await seed_contacts(core, tmp_path)
            cut = InboundSms("modem", "m1-cut", BRIAN, "m1", "Fees are du", incomplete=True)
            await core.inbound.handle(cut)
            await core.inbound.handle(InboundSms("modem", "m1-ok", BRIAN, "m1", "Thanks"))
            await core.inbound.settled()

    asyncio.run(receive())
    assert inbox_list(tmp_path, as_json=False) == 0
    thanks, cut = capsys.readouterr().out.splitlines()
    assert cut.endswith("[unread] [incomplete: some parts never arrived]: Fees are du")
    assert "incomplete" not in thanks
    assert inbox_list(tmp_path, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["incomplete"] for m in data] == [False, True]


async def test_unpaired_surrogates_are_replaced_not_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        bad = InboundSms("modem", "m1-\udcff", BRIAN, "m1\udcfe", "caf\udcff \ud83d\ude00 ok\ud800")
        first = await core.inbound.handle(bad)
        other = await core.inbound.handle(InboundSms("modem", "m1-\udcfe", BRIAN, "m1", "x"))
        again = await core.inbound.handle(bad)
        stop = await core.inbound.handle(InboundSms("modem", "m1-s", BRIAN, "m1", "STOP\udcff"))
        rows = await inbound_rows(core.db)
    assert not first.duplicate and not other.duplicate and again.duplicate
    assert again.id == first.id and stop.outcome == "opted_out"  # the stray byte is punctuation
    assert rows[0]["text"] == "caf\ufffd \U0001f600 ok\ufffd"  # a split pair heals
    assert rows[0]["recipient"] == "m1\ufffd"
    assert [r["provider_id"] for r in rows] == ["m1-\\udcff", "m1-\\udcfe", "m1-s"]


def test_the_simulator_cli_keeps_a_text_with_undecodable_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = b"bei \xff?".decode("utf-8", "surrogateescape")  # how Python hands over such argv
    args = Namespace(
        sender="0712345002", recipient="simulator", provider_id=None, text=text, json=True
    )
    assert asyncio.run(simulate_inbound_cmd(args, make_config(tmp_path))) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "inbox"
    assert inbox_list(tmp_path, as_json=True) == 0
    [message] = json.loads(capsys.readouterr().out)
    assert message["text"] == "bei \ufffd?"
