"""The Africa's Talking inbound callback through the real app: bodies, bad input, replies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import Core, open_core
from bot.server import CORE, GATEWAYS, build_app
from gateway.simulator.gateway import SimulatorGateway
from handlers.routes import add_routes
from tests.support import db
from tests.support.base import CALLBACK_SECRET, make_config, seed_contacts

Client = TestClient[web.Request, web.Application]
FIXTURES = Path(__file__).parent / "fixtures" / "africastalking"
URL = f"/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
FORM = "application/x-www-form-urlencoded"
GOOD = {
    "linkId": "",
    "text": "hello",
    "to": "20880",
    "id": "ATXid_http_1",
    "date": "2026-11-20 09:15:03",
    "from": "+254712345002",
    "networkCode": "63902",
    "cost": "None",
}


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    config = make_config(tmp_path)
    async with open_core(config) as core:
        await seed_contacts(core, tmp_path)
        for label in ("club:ict", "club:chess"):
            await core.book.create_group(label, joinable=True, actor="test")
    async with TestClient(TestServer(build_app(config, mount=add_routes), host="127.0.0.1")) as c:
        yield c


def core_of(client: Client) -> Core:
    assert client.app is not None
    return client.app[CORE]


async def post(
    client: Client, data: bytes | str, *, url: str = URL, content_type: str = FORM
) -> tuple[int, dict[str, Any]]:
    async with client.post(url, data=data, headers={"Content-Type": content_type}) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("fixture", "outcome", "reply_starts"),
    [
        ("inbound_stop_period.txt", "opted_out", "You will no longer get SMS"),
        ("inbound_stop_emoji.txt", "opted_out", "You will no longer get SMS"),
        ("inbound_stop_spaces.txt", "opted_out", "You will no longer get SMS"),
        ("inbound_acha_sw.txt", "opted_out", "Hutapokea tena SMS"),
        ("inbound_stop_sentence.txt", "inbox", None),
        ("inbound_join.txt", "joined", "You have joined club:ict"),
        ("inbound_jiunge_sw.txt", "joined", "Umejiunga na club:ict"),
        ("inbound_leave.txt", "left", "You have left club:ict"),
        ("inbound_help.txt", "help", "Test University SMS alerts"),
        ("inbound_msaada_sw.txt", "help", "Huduma ya SMS ya Test University"),
        ("inbound_start.txt", "inbox", None),  # not opted out: START is just a message
        ("inbound_question.txt", "inbox", None),
        ("inbound_unicode_iso_date.txt", "inbox", None),
        ("inbound_empty_text.txt", "inbox", None),
    ],
)
async def test_real_callback_bodies(
    client: Client, fixture: str, outcome: str, reply_starts: str | None
) -> None:
    status, answer = await post(client, body(fixture))
    assert status == 200 and answer["ok"] is True and answer["duplicate"] is False
    [row] = await db.inbound_rows(core_of(client).db, id=answer["id"])
    assert row["outcome"] == outcome and row["gateway"] == "africastalking"
    sent = dict(parse_qsl(body(fixture).decode(), keep_blank_values=True))
    assert row["text"] == sent["text"]  # byte for byte, emoji and all
    assert row["provider_id"].startswith("ATXid_inbound_") and row["recipient"] == "20880"
    assert row["received_at"].startswith("2026-11-20T09:")
    replies = await db.outbox_rows(core_of(client).db, "text", inbound_id=answer["id"])
    if reply_starts is None:
        assert replies == []
    else:
        assert len(replies) == 1 and replies[0]["text"].startswith(reply_starts)


@pytest.mark.parametrize(
    ("data", "status", "content_type"),
    [
        (body("inbound_missing_from.txt"), 400, FORM),
        (urlencode({k: v for k, v in GOOD.items() if k != "id"}), 400, FORM),
        (urlencode({k: v for k, v in GOOD.items() if k != "to"}), 400, FORM),
        (urlencode({k: v for k, v in GOOD.items() if k != "text"}), 400, FORM),
        (urlencode({**GOOD, "from": ""}), 400, FORM),
        (urlencode({**GOOD, "text": "a" * 10_000}), 400, FORM),  # a 10 kB text
        (urlencode({**GOOD, "text": "nul\x00"}), 400, FORM),
        (urlencode(GOOD) + "&text=again", 400, FORM),
        (urlencode({**GOOD, "id": "x" * 501}), 400, FORM),
        (body("inbound_bad_sender.txt"), 422, FORM),
        (body("inbound_plain.txt"), 422, FORM),  # AT's own sample masks the number: +254711XXXYYY
        (urlencode({**GOOD, "from": "+254 20 2222222"}), 422, FORM),  # a landline gets no SMS
        (b"", 400, FORM),
        (b"%%%", 400, FORM),
        (b'{"from": "+254712345002"}', 400, "application/json"),
        (urlencode(GOOD), 400, "multipart/form-data; boundary=nothing"),
        (urlencode({**GOOD, "text": "x" * 1_100_000}), 413, FORM),  # over max_body_bytes
    ],
)
async def test_bad_input_gets_a_4xx_and_stores_nothing(
    client: Client, data: bytes | str, status: int, content_type: str
) -> None:
    async with client.post(URL, data=data, headers={"Content-Type": content_type}) as resp:
        assert resp.status == status, await resp.text()
    assert await db.inbound_rows(core_of(client).db, "id") == []


@pytest.mark.parametrize("secret", ["wrong-secret-0123456789", CALLBACK_SECRET[:-1], "x"])
async def test_a_wrong_secret_is_404_before_the_body_is_read(client: Client, secret: str) -> None:
    url = f"/callbacks/africastalking/{secret}/inbound"
    for data in (body("inbound_stop_period.txt"), b"\xff garbage"):
        status, answer = await post(client, data, url=url)
        assert status == 404 and answer["error"]["code"] == "not_found"
    assert await db.inbound_rows(core_of(client).db, "id") == []


async def test_a_retried_callback_is_processed_once(client: Client) -> None:
    first = await post(client, body("inbound_stop_period.txt"))
    again = await post(client, body("inbound_stop_period.txt"))
    assert first[0] == again[0] == 200
    assert (first[1]["duplicate"], again[1]["duplicate"]) == (False, True)
    assert first[1]["id"] == again[1]["id"]
    burst = await asyncio.gather(*(post(client, body("inbound_help.txt")) for _ in range(10)))
    assert [s for s, _ in burst] == [200] * 10
    assert sum(not a["duplicate"] for _, a in burst) == 1
    assert len(await db.inbound_rows(core_of(client).db, "id")) == 2
    assert len(await db.outbox_rows(core_of(client).db, "id", inbound_id=db.PRESENT)) == 2


async def test_multipart_bodies_are_read_too(client: Client) -> None:
    form = aiohttp.FormData(GOOD)
    form.add_field("dummy", "1")  # forces multipart/form-data
    form._is_multipart = True
    async with client.post(URL, data=form) as resp:
        assert resp.status == 200, await resp.text()
    [row] = await db.inbound_rows(core_of(client).db, "text", "sender")
    assert row == {"text": "hello", "sender": "+254712345002"}


async def wait_sent(client: Client, inbound_id: int) -> str:
    async with asyncio.timeout(10):
        while True:
            rows = await db.outbox_rows(core_of(client).db, "state", "text", inbound_id=inbound_id)
            if rows and rows[0]["state"] == "sent":
                return str(rows[0]["text"])
            await asyncio.sleep(0.02)


async def test_keywords_work_through_the_route_and_replies_go_out(
    client: Client,
) -> None:
    assert client.app is not None
    gw = client.app[GATEWAYS]["simulator"]
    assert isinstance(gw, SimulatorGateway)
    core = core_of(client)
    phone = "+254712345005"
    script = [
        ("STOP", "opted_out"),
        ("what is this?", "inbox"),
        ("Start", "opted_in"),
        ("join chess!", "joined"),
        ("leave chess", "left"),
        ("HELP", "help"),
    ]  # five replies: the default loop guard allows five an hour
    for i, (text, outcome) in enumerate(script):
        form = {**GOOD, "id": f"ATXid_flow_{i}", "from": phone, "text": text}
        status, answer = await post(client, urlencode(form))
        assert status == 200
        [row] = await db.inbound_rows(core_of(client).db, "outcome", id=answer["id"])
        assert row["outcome"] == outcome, text
        if outcome != "inbox":
            reply = await wait_sent(client, answer["id"])
            assert [s.text for s in gw.sent if s.phone == phone][-1] == reply
    contact = await core.book.contact(phone)
    assert contact is not None and contact.opted_out_at is None
    assert contact.groups == ("club:drama", "dept:engineering")
    assert len([s for s in gw.sent if s.phone == phone]) == 5


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (body("inbound_invalid_utf8.txt"), "\ufffd\ufffdhello"),  # %FF%FE: not UTF-8
        (b"text=caf\xe9+%FF&from=%2B254712345002&id=x1&to=20880", "caf\ufffd \ufffd"),  # raw
        (urlencode({**GOOD, "text": "a\ud800b"}, errors="surrogatepass"), "a\ufffd\ufffd\ufffdb"),
        (urlencode({**GOOD, "text": "STOP", "linkId": "\udcff"}, errors="surrogateescape"), "STOP"),
    ],
)
async def test_text_that_is_not_utf8_is_kept_with_replacement_characters(
    client: Client, data: bytes | str, text: str
) -> None:
    status, answer = await post(client, data)
    assert status == 200 and answer["ok"] is True and answer["duplicate"] is False
    [row] = await db.inbound_rows(core_of(client).db, id=answer["id"])
    assert row["text"] == text and row["sender"] == "+254712345002"
    if text == "STOP":
        assert row["outcome"] == "opted_out" and row["link_id"] == "\ufffd"
        return
    assert row["outcome"] == "inbox"
    [listed] = await core_of(client).inbound.inbox()
    assert listed.text == text


async def test_ids_that_are_not_utf8_stay_distinct(client: Client) -> None:
    answers = []
    for raw_id in (b"ATXid_%FF", b"ATXid_%FE", b"ATXid_%FF"):
        data = b"from=%2B254712345002&to=20880&text=hi&id=" + raw_id
        status, answer = await post(client, data)
        assert status == 200
        answers.append(answer)
    assert [a["duplicate"] for a in answers] == [False, False, True]
    assert answers[2]["id"] == answers[0]["id"]
    ids = await db.inbound_rows(core_of(client).db, "provider_id")
    assert [r["provider_id"] for r in ids] == ["ATXid_\\udcff", "ATXid_\\udcfe"]


async def test_a_sender_that_is_not_utf8_is_a_4xx(client: Client) -> None:
    status, answer = await post(client, b"from=%2B2547123%FF5002&to=20880&text=hi&id=s1")
    assert status == 422 and "sender" in answer["error"]["message"]
    assert await db.inbound_rows(core_of(client).db, "id") == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fields=st.dictionaries(
        st.sampled_from(["from", "id", "to", "text", "date", "linkId", "networkCode", "cost"]),
        st.text(max_size=40) | st.sampled_from(["+254712345001", "STOP", "JOIN ict", ""]),
    ),
    raw=st.binary(max_size=60),
)
async def test_no_input_gives_a_server_error(
    client: Client, fields: dict[str, str], raw: bytes
) -> None:
    for data in (urlencode(fields, errors="surrogatepass").encode(), raw):
        async with client.post(URL, data=data, headers={"Content-Type": FORM}) as resp:
            assert resp.status < 500, await resp.text()
