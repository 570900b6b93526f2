"""Text that is not valid Unicode (unpaired surrogates) is refused where it enters the core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.auditing import Auditor
from bot.server import CORE, build_app
from handlers.entry import main
from handlers.routes import add_routes
from tests.support.base import (
    API_TOKEN,
    cli_with_contacts,
    make_config,
    seed_contacts,
)
from tests.support.chat import chat_config, running
from tests.support.db import DbFile, count_rows

BAD = "Exam at 9, \udcff bring pens"  # the surrogate is character 12
REFUSAL = "message: character 12 is not valid text (an unpaired surrogate); re-type it"
CONSOLE_TOKEN = "console-token-surrogates-0123456789"


class Rest:
    def __init__(self, server: TestServer, session: ClientSession):
        self.server = server
        self.session = session

    async def post(self, path: str, raw: str) -> tuple[int, Any]:
        """POST a JSON body written by hand, so "\\udcff" reaches the server as an escape."""
        async with self.session.post(
            self.server.make_url(path),
            data=raw.encode("ascii"),
            headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
        ) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def rest(tmp_path: Path) -> AsyncIterator[Rest]:
    server = TestServer(build_app(make_config(tmp_path), mount=add_routes), host="127.0.0.1")
    await server.start_server()
    await seed_contacts(server.app[CORE], tmp_path)
    async with ClientSession() as session:
        yield Rest(server, session)
    await server.close()


async def outbox_and_broadcasts(rest: Rest) -> tuple[int, int]:
    core_db = rest.server.app[CORE].db
    return await count_rows(core_db, "outbox"), await count_rows(core_db, "broadcasts")


@pytest.mark.parametrize(
    ("path", "raw", "error"),
    [
        (
            "/api/v1/broadcasts",
            '{"audience": "club:ict", "message": "Exam at 9, \\udcff bring pens"}',
            REFUSAL,
        ),
        (
            "/api/v1/sms/send",
            '{"to": "0712345001", "message": "Exam at 9, \\udcff bring pens"}',
            REFUSAL,
        ),
        (
            "/api/v1/broadcasts",
            '{"audience": "club:ict", "message": "Exam", "sender_id": "UNI\\udcffX"}',
            "sender_id: character 4 is not valid text (an unpaired surrogate); re-type it",
        ),
        (  # a lone low half after a complete pair: only the lone one is named
            "/api/v1/sms/send",
            '{"to": "0712345001", "message": "\\ud83d\\ude00 ok \\ude00"}',
            "message: character 6 is not valid text (an unpaired surrogate); re-type it",
        ),
    ],
)
async def test_rest_refuses_unpaired_surrogates_with_a_4xx(
    rest: Rest, path: str, raw: str, error: str
) -> None:
    status, body = await rest.post(path, raw)
    assert status == 422, body
    assert body["error"]["message"] == error
    assert await outbox_and_broadcasts(rest) == (0, 0)


async def test_rest_still_takes_paired_surrogates_as_one_character(rest: Rest) -> None:
    status, body = await rest.post(
        "/api/v1/broadcasts", '{"audience": "club:ict", "message": "Well done \\ud83c\\udf89"}'
    )
    assert status == 201, body
    assert body["preview"]["sample"] == "Well done 🎉"


def test_cli_create_with_a_surrogate_escaped_argument_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = cli_with_contacts(tmp_path, "--group", "club:ict")
    capsys.readouterr()
    # What Python makes of  smsops broadcasts create club:ict $'Exam at 9, \xff bring pens'
    argv_text = b"Exam at 9, \xff bring pens".decode("utf-8", "surrogateescape")
    assert argv_text == BAD
    code = main([*base, "broadcasts", "create", "club:ict", argv_text, "--as", "registrar"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == f"smsops: {REFUSAL}\n"
    assert out == ""
    assert DbFile(tmp_path / "test.db").count("broadcasts") == 0


async def test_chat_command_names_the_character_and_the_reply_is_sendable(
    tmp_path: Path,
) -> None:
    config = chat_config(tmp_path, console_token=CONSOLE_TOKEN)
    async with running(config, tmp_path) as server, ClientSession() as session:

        async def run(command: str) -> dict[str, Any]:
            async with session.post(
                server.make_url("/console/command"),
                json={"person": "registrar", "command": command},
                headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"},
            ) as resp:
                assert resp.status == 200
                body: dict[str, Any] = await resp.json()
                return body

        assert await run(f'club:ict "{BAD}"') == {"ok": False, "text": REFUSAL, "broadcast": None}
        reply = await run(f'reply 0712345001 "{BAD}"')
        assert reply["text"] == REFUSAL
        # An option echoed back in the error is escaped, so every platform can send the reply.
        echoed = await run('club:ict "Hi" --sender U\udcffNI')
        assert not echoed["ok"] and "U\\udcffNI" in echoed["text"]
        entries = await Auditor(server.app[CORE].db, clock=server.app[CORE].clock).entries()
        replies = [e["details"].get("reply", "") for e in entries]
        assert any("U\\udcffNI" in r for r in replies)  # audited, not lost to a codec error
