"""What the server logs about a failed request names the route, never the path that was asked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot import logs
from bot.server import CORE, build_app
from handlers.routes import add_routes
from tests.support.base import CALLBACK_SECRET, make_config

REPORT = {"id": "ATXid_1", "status": "Success", "phoneNumber": "+254712345001"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    server = TestServer(build_app(make_config(tmp_path), mount=add_routes), host="127.0.0.1")
    await server.start_server(access_log=None)  # as `smsops serve` runs it
    yield server
    await server.close()


async def _break_outbox(server: TestServer) -> None:
    """A real fault under the handler: the table it needs is gone."""
    async with server.app[CORE].db.transaction() as tx:
        await tx.execute("ALTER TABLE outbox RENAME TO outbox_gone")


async def test_an_unhandled_error_on_a_callback_logs_the_route_not_the_secret(
    server: TestServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the process-wide redaction, only what the middleware writes keeps the secret out.
    monkeypatch.setattr(logs._EVERYWHERE, "secrets", [])
    caplog.set_level(logging.DEBUG)
    await _break_outbox(server)
    url = server.make_url(f"/callbacks/africastalking/{CALLBACK_SECRET}/delivery")
    async with ClientSession() as session, session.post(url, data=REPORT) as resp:
        assert resp.status == 500
        body = await resp.json()
    assert body["error"]["code"] == "internal"
    lines = [r for r in caplog.records if r.name == "handlers.http"]
    assert [r.getMessage() for r in lines] == [
        "unhandled error on POST /callbacks/africastalking/{secret}/delivery"
    ]
    assert lines[0].exc_info is not None  # the traceback is still there for whoever debugs it
    assert CALLBACK_SECRET not in caplog.text


async def test_a_path_secret_that_is_not_configured_is_never_logged(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _break_outbox(server)
    guessed = "guessed-secret-not-in-config-0123"
    async with ClientSession() as session:
        for path in (
            f"/callbacks/africastalking/{guessed}/delivery",
            f"/callbacks/africastalking/{guessed}/inbound",
            f"/api/v1/broadcasts/1/{guessed}",
        ):
            async with session.post(server.make_url(path), data=REPORT) as resp:
                assert resp.status in (404, 405)
    assert guessed not in caplog.text
