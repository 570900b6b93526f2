"""The local console: token file or configured token, POST /console/command, `smsops chat`."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.auditing import Auditor
from handlers.chat.console import token_path
from handlers.entry import main
from tests.support.chat import (
    chat_config,
    core_of,
    running,
    wait_broadcast_settled,
    wait_until,
)

CONSOLE_TOKEN = "console-token-0123456789abcdef"


async def run_console(
    server: TestServer, person: str, command: str, *, token: str
) -> tuple[int, dict[str, Any]]:
    async with (
        ClientSession() as session,
        session.post(
            server.make_url("/console/command"),
            json={"person": person, "command": command},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_generated_token_is_written_0600_and_removed_at_shutdown(tmp_path: Path) -> None:
    config = chat_config(tmp_path)
    path = token_path(config)
    assert path == tmp_path / "test.db.console-token"
    async with running(config, tmp_path) as server:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text().strip()
        assert len(token) >= 32
        status, body = await run_console(server, "dean", "help", token=token)
        assert status == 200 and body["ok"] and "/sms club:ict" in body["text"]
        status, _ = await run_console(server, "dean", "help", token=token + "x")
        assert status == 401
    assert not path.exists()


async def test_configured_token_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    config = chat_config(tmp_path, console_token=CONSOLE_TOKEN)
    async with running(config, tmp_path) as server:
        assert not token_path(config).exists()
        status, body = await run_console(server, "dean", "groups", token=CONSOLE_TOKEN)
        assert status == 200 and "club:ict — 2 members" in body["text"]
        async with (
            ClientSession() as session,
            session.post(server.make_url("/console/command"), json={}) as resp,
        ):
            assert resp.status == 401


async def test_whole_flow_from_the_console(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.chat.console")
    config = chat_config(tmp_path, console_token=CONSOLE_TOKEN)
    async with running(config, tmp_path) as server:
        _, preview = await run_console(
            server, "registrar", "club:ict,club:chess “Exam at 9am”", token=CONSOLE_TOKEN
        )
        assert preview["ok"] and preview["broadcast"] == 1
        assert "4 recipients" in preview["text"] and "Sent to the approvers" in preview["text"]
        _, own = await run_console(server, "registrar", "approve 1", token=CONSOLE_TOKEN)
        assert not own["ok"] and "your own" in own["text"]
        _, ok = await run_console(server, "dean", "approve 1", token=CONSOLE_TOKEN)
        assert ok["ok"] and "approved" in ok["text"]

        async def delivered() -> bool:
            _, status = await run_console(server, "registrar", "status 1", token=CONSOLE_TOKEN)
            return "delivered 4" in status["text"]

        await wait_until(delivered, what="all four delivered")
        await wait_until(
            lambda: "finished: 4 of 4 sent" in caplog.text, what="the summary in the log"
        )
        assert "console → approvers: Broadcast 1 — approval needed" in caplog.text
        assert "console → registrar" in caplog.text
        _, refused = await run_console(server, "nobody", "list", token=CONSOLE_TOKEN)
        assert not refused["ok"] and "not on the smsops staff list" in refused["text"]
        entries = await Auditor(core_of(server).db, clock=core_of(server).clock).entries()
        actions = {e["action"] for e in entries}
        assert {"chat.send", "chat.approve", "chat.status", "chat.refused"} <= actions


async def test_smsops_chat_cli_against_the_running_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = chat_config(tmp_path)
    async with running(config, tmp_path) as server:
        url = str(server.make_url("")).rstrip("/")
        args = ["--config", str(config.path), "chat", "--url", url, "--as", "registrar"]
        code = await asyncio.to_thread(main, [*args, "club:ict", "Meeting at 5pm"])
        out = capsys.readouterr().out
        assert code == 0 and "Broadcast 1 (alert)" in out and "2 recipients" in out
        code = await asyncio.to_thread(main, [*args, "approve 1"])
        assert code == 0 and "approved" in capsys.readouterr().out
        await wait_broadcast_settled(core_of(server), 1)
        code = await asyncio.to_thread(main, [*args, "cancel 99"])
        assert code == 1 and "no broadcast 99" in capsys.readouterr().out
    code = await asyncio.to_thread(main, [*args, "status 1"])
    err = capsys.readouterr().err
    assert code == 1 and "no console token" in err
