"""Hostile text stays literal (SQL, placeholders, format strings), the loop guard holds, and the
log watch and the product's redaction really work."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.logs import RedactSecrets
from bot.server import CORE, build_app
from handlers.routes import add_routes
from tests.conftest import WATCH, SecretWatch, leaked
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import AT_KEY, CALLBACK_SECRET, DEAN_TOKEN, make_config, seed_contacts
from tests.support.chat import STAFF, TG_TOKEN, wait_until
from tests.support.chat_clients import telegram_app
from tests.support.db import count_rows
from tests.support.security import changed_tables, snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "africastalking"
DROP = "Robert'); DROP TABLE contacts;--"
BRACES = "Eve {phone} {{x}} %s %(name)s ${AT_API_KEY}"
CSV = f"""Name,Phone,Club,Note
"{DROP}",0712345101,"Chess'); DROP TABLE groups;--","{{name}} 50% off; --"
"{BRACES}",0712345102,"Chess'); DROP TABLE groups;--","' OR 1=1 --"
"""


@dataclass
class AtApp:
    """The real app sending through the fake Africa's Talking server."""

    server: TestServer
    fake: FakeAfricasTalking

    async def call(self, path: str, *, json: Any = None, data: bytes | None = None) -> Any:
        """POST as the dean (REST) or as Africa's Talking (callbacks); return status and body."""
        headers = {"Authorization": f"Bearer {DEAN_TOKEN}"}
        if data is not None:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        async with (
            ClientSession() as session,
            session.post(self.server.make_url(path), json=json, data=data, headers=headers) as r,
        ):
            return r.status, await r.json(content_type=None)

    def texts_to(self, phone: str) -> list[str]:
        """The message texts the fake accepted for one number."""
        return [a.text for a in self.fake.accepted if a.number == phone]


@asynccontextmanager
async def at_app(tmp_path: Path, csv: str | None = None, extra: str = "") -> AsyncIterator[AtApp]:
    async with FakeAfricasTalking(api_key=AT_KEY) as fake:
        config = make_config(tmp_path, primary="africastalking", at_url=fake.base_url, extra=extra)
        server = TestServer(build_app(config, mount=add_routes), host="127.0.0.1")
        await server.start_server()
        try:
            if csv is not None:
                await seed_contacts(server.app[CORE], tmp_path, csv)
            yield AtApp(server, fake)
        finally:
            await server.close()


async def test_sql_and_template_syntax_stay_literal_end_to_end(tmp_path: Path) -> None:
    async with at_app(tmp_path, CSV) as app:
        core = app.server.app[CORE]
        labels = {g.label for g in await core.book.groups() if g.label.startswith("club:")}
        assert labels == {"club:chess", "club:drop-table-groups"}  # split at ";", then slugged
        group = "club:chess"
        contact = await core.book.contact("0712345101")
        assert contact is not None and contact.name == DROP

        for audience, message, problem in (
            ("club:x'); DROP TABLE contacts;--", "Hi", '"club:x\');" is not a group'),
            (group, "Key: ${AT_API_KEY}", "unknown placeholder {AT_API_KEY}"),
            (group, "Hi {name!r}", "unknown placeholder {name}"),
            (group, "Hi {", "bad placeholder"),
        ):
            before = await snapshot(core)
            status, body = await app.call(
                "/api/v1/broadcasts", json={"audience": audience, "message": message}
            )
            assert status == 422 and problem in body["error"]["message"], (message, body)
            assert changed_tables(before, await snapshot(core)) == []

        template = "Hi {name}: {note} 100%s {{literal}} ${{AT_API_KEY}} '); DROP TABLE outbox;--"
        status, body = await app.call(
            "/api/v1/broadcasts", json={"audience": group, "message": template}
        )
        assert status == 201 and body["state"] == "draft", body  # 2 recipients: below approval
        status, body = await app.call(f"/api/v1/broadcasts/{body['id']}/approve")
        assert status == 200 and body["outcome"] == "approved", body
        await wait_until(lambda: len(app.fake.accepted) == 2, what="two messages at AT")
        tail = "100%s {literal} ${AT_API_KEY} '); DROP TABLE outbox;--"
        assert app.texts_to("+254712345101") == [f"Hi {DROP}: {{name}} 50% off; -- {tail}"]
        assert app.texts_to("+254712345102") == [f"Hi {BRACES}: ' OR 1=1 -- {tail}"]

        direct = "%s {name} {{ }} ${AT_API_KEY} '); DELETE FROM outbox;--"
        status, body = await app.call(
            "/api/v1/sms/send", json={"to": "0712345103", "message": direct}
        )
        assert status == 202
        await wait_until(lambda: app.texts_to("+254712345103"), what="the direct message")
        assert app.texts_to("+254712345103") == [direct]
        counts = await snapshot(core)
        assert len(counts["contacts"]) == 3 and len(counts["outbox"]) == 3


def _inbound(n: int, *, sender: str, text: str) -> bytes:
    form = dict(parse_qsl((FIXTURES / "inbound_help.txt").read_text().strip()))
    return urlencode({**form, "id": f"ATXid_loop_{n}", "from": sender, "text": text}).encode()


async def test_loop_guard_caps_auto_replies_per_number(tmp_path: Path) -> None:
    extra = "[keywords]\nmax_auto_replies_per_hour = 3\n"
    async with at_app(tmp_path, extra=extra) as app:
        core = app.server.app[CORE]
        url = f"/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
        loop, other = "+254712345201", "+254712345202"
        texts = ["HELP", "help", "HELP", "HELP", "HELP", "STOP"]
        for n, text in enumerate(texts):
            status, _ = await app.call(url, data=_inbound(n, sender=loop, text=text))
            assert status == 200
        status, _ = await app.call(url, data=_inbound(99, sender=other, text="HELP"))
        assert status == 200
        await wait_until(lambda: app.texts_to(other), what="the other number's reply")

        async def settled() -> bool:
            return await count_rows(core.db, "outbox", state=("queued", "sending")) == 0

        await wait_until(settled, what="the outbox to drain")
        assert len(app.texts_to(loop)) == 4 and len(app.texts_to(other)) == 1
        assert "START" in app.texts_to(loop)[-1]  # past the guard: the STOP confirmation goes
        rows = await snapshot(core)
        assert len(rows["inbound"]) == len(texts) + 1  # every message is stored
        contact = await core.book.contact(loop)
        assert contact is not None and contact.opted_out_at is not None  # STOP is still obeyed


SECRET = "leak-me-0123456789-abcdef"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args or None, exc_info)


def test_the_log_watch_fails_on_a_secret_wherever_it_is() -> None:
    assert WATCH in logging.getLogger().handlers and logging.getLogger().level == logging.DEBUG
    assert {AT_KEY, CALLBACK_SECRET, TG_TOKEN, DEAN_TOKEN} <= WATCH.secrets
    watch = SecretWatch()
    watch.secrets = {SECRET}
    try:
        raise RuntimeError(f"GET https://api.example/bot{SECRET}/getMe failed")
    except RuntimeError as exc:
        failure = exc
    records = [
        _record("all well"),
        _record("token %s", SECRET),
        _record("request failed", exc=failure),
        _record("url %s", f"/x?token={SECRET.replace('-', '%2D')}"),
        _record("url /bot%s", SECRET.replace(":", "%3A")),
    ]
    for record in records:
        watch.handle(record)
    assert watch.records == 5 and len(watch.leaks) == 3, watch.leaks
    assert leaked("%3Aa%3Ab", {":a:b"}) == [":a:b"]
    from tests.conftest import check_watch

    with pytest.raises(AssertionError, match="secrets in log records"):
        check_watch(watch)


def test_redact_secrets_masks_message_traceback_and_stack() -> None:
    redact = RedactSecrets([SECRET, "short"])
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError as exc:
        record = _record("calling %s", f"/bot{SECRET}/x", exc=exc)
    record.stack_info = f"stack {SECRET}"
    assert redact.filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text and "/bot***/x" in text and "bad key ***" in text


async def test_callback_paths_and_bot_api_urls_are_redacted_in_any_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with at_app(tmp_path) as app:
        url = f"/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
        status, _ = await app.call(url, data=_inbound(1, sender="+254712345301", text="hi"))
        assert status == 200
    (tmp_path / "tg").mkdir()
    async with telegram_app(tmp_path / "tg") as tg:
        await tg.command("/sms help", user=STAFF.telegram, chat=STAFF.telegram, group=False)
        await wait_until(lambda: tg.fake.in_chat(STAFF.telegram), what="the help reply")
    await asyncio.sleep(0)
    text = caplog.text
    assert "/callbacks/africastalking/***/inbound" in text  # the access log line, masked
    assert "Set Bot API URL: http://127.0.0.1:" in text and "/bot***" in text  # PTB's, masked
    assert CALLBACK_SECRET not in text and TG_TOKEN not in text
    assert "tests.conftest" in sys.modules
