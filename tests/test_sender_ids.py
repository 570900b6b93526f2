"""A sender id that is not valid text, too long, or of the wrong characters is one clear line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.errors import UserError
from bot.server import CORE, build_app
from bot.validate import check_sender_id
from handlers.entry import main
from handlers.routes import add_routes
from tests.support.base import (
    API_TOKEN,
    cli_with_contacts,
    make_config,
    seed_contacts,
)
from tests.support.db import DbFile, count_rows

# What Python makes of  --sender $'\xff'  (a byte that is not UTF-8) on the command line
ARGV_FF = b"\xff".decode("utf-8", "surrogateescape")
SURROGATE = "sender_id: character 1 is not valid text (an unpaired surrogate); re-type it"
TOO_LONG = "sender_id 'UNIVERSITYOFX': 13 characters; an alphanumeric sender id has at most 11"
CHARSET = "sender_id 'UNI!': use letters, digits, spaces, '.' or '-'"


@pytest.mark.parametrize(
    "good", ["UNIVERSITY", "ABCDEFGHIJK", "St. Mary-s", "+254712345678", "22384"]
)
def test_registered_forms_pass(good: str) -> None:
    check_sender_id(good)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (ARGV_FF, SURROGATE),
        ("UNIVERSITYOFX", TOO_LONG),
        ("UNI!", CHARSET),
        (" UNI", "sender_id ' UNI': use letters"),
        ("+2547123456789012", "sender_id '+2547123456789012': use letters"),
    ],
)
def test_bad_forms_name_the_field(bad: str, error: str) -> None:
    with pytest.raises(UserError) as raised:
        check_sender_id(bad)
    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)
    str(raised.value).encode("utf-8")  # printable whatever was typed


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    base = cli_with_contacts(tmp_path, "--group", "club:ict")
    capsys.readouterr()
    return base


@pytest.mark.parametrize(("sender", "error"), [(ARGV_FF, SURROGATE), ("UNIVERSITYOFX", TOO_LONG)])
def test_cli_create_with_a_bad_sender_is_one_line_and_writes_nothing(
    cli: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], sender: str, error: str
) -> None:
    code = main(
        [*cli, "broadcasts", "create", "club:ict", "Hi", "--as", "registrar", "--sender", sender]
    )
    out, err = capsys.readouterr()
    assert (code, out, err) == (1, "", f"smsops: {error}\n")
    file = DbFile(tmp_path / "test.db")
    assert file.count("broadcasts") == 0
    assert file.count_audited("broadcast") == 0


def test_cli_create_with_a_good_sender_shows_it(
    cli: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["broadcasts", "create", "club:ict", "Hi", "--as", "registrar", "--sender", "UNIVERSITY"]
    assert main([*cli, *args]) == 0
    assert "From: UNIVERSITY (sender id)" in capsys.readouterr().out


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    server = TestServer(build_app(make_config(tmp_path), mount=add_routes), host="127.0.0.1")
    await server.start_server()
    await seed_contacts(server.app[CORE], tmp_path)
    yield server
    await server.close()


@pytest.mark.parametrize(
    ("sender", "error"),
    [("UNIVERSITYOFX", TOO_LONG), ("UNI!", CHARSET), ("UNI\udcff", "sender_id: character 4")],
)
async def test_rest_refuses_a_bad_sender_with_422(
    server: TestServer, sender: str, error: str
) -> None:
    body = {"audience": "club:ict", "message": "Exam at 9", "sender_id": sender}
    async with (
        ClientSession() as session,
        session.post(
            server.make_url("/api/v1/broadcasts"),
            json=body,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        ) as resp,
    ):
        status, answer = resp.status, await resp.json()
    assert status == 422, answer
    assert answer["error"]["message"].startswith(error)
    assert await count_rows(server.app[CORE].db, "broadcasts") == 0
