"""The REST API through the real app on 127.0.0.1: auth, the broadcast flow, and 4xx errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.server import CORE, build_app
from handlers.routes import add_routes
from tests.support import db
from tests.support.base import API_TOKEN, CALLBACK_SECRET, DEAN_TOKEN, make_config, seed_contacts


class Api:
    def __init__(self, server: TestServer, session: ClientSession):
        self.server = server
        self.session = session

    @property
    def core(self) -> Any:
        return self.server.app[CORE]

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = API_TOKEN,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.server.make_url(path), json=json, data=data, headers=hdrs
        ) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    config = make_config(tmp_path)
    server = TestServer(build_app(config, mount=add_routes), host="127.0.0.1")
    await server.start_server()
    await seed_contacts(server.app[CORE], tmp_path)
    async with ClientSession() as session:
        yield Api(server, session)
    await server.close()


async def wait_for(api: Api, bid: int, state: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            status, body = await api.call("GET", f"/api/v1/broadcasts/{bid}")
            assert status == 200
            if body["state"] == state and (
                state != "done" or body["counts"]["delivered"] == body["recipients"]
            ):
                return dict(body)
            await asyncio.sleep(0.05)


async def test_broadcast_flow_to_delivery(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "/api/v1/broadcasts",
        json={"audience": "club:ict,club:chess", "message": "Exam at 9"},
    )
    assert status == 201 and body["state"] == "awaiting_approval"
    assert body["preview"]["recipients"] == 4
    bid = body["id"]
    status, refused = await api.call("POST", f"/api/v1/broadcasts/{bid}/approve")
    assert status == 403 and "your own" in refused["error"]["message"]
    status, ok = await api.call("POST", f"/api/v1/broadcasts/{bid}/approve", token=DEAN_TOKEN)
    assert status == 200 and ok["outcome"] == "approved"
    done = await wait_for(api, bid, "done")
    assert done["counts"]["sent"] == 4 and done["counts"]["delivered"] == 4
    assert done["counts"]["cost"] == pytest.approx(3.2)
    status, _again = await api.call("POST", f"/api/v1/broadcasts/{bid}/approve", token=DEAN_TOKEN)
    assert status == 409


async def test_one_to_one_send_retry_and_status(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/v1/sms/send", json={"to": "0712 345 001", "message": "Your results are out"}
    )
    assert status == 202
    mid = body["id"]
    async with asyncio.timeout(5):
        while True:
            status, st = await api.call("POST", "/api/v1/sms/delivery_report", json={"ids": [mid]})
            if st["messages"][0]["delivery_status"] == "delivered":
                break
            await asyncio.sleep(0.05)
    assert st["messages"][0]["phone"] == "+254712345001"
    status, _err = await api.call("POST", "/api/v1/sms/retry", json={"id": mid})
    assert status == 404  # it did not fail: nothing to retry


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/v1/sms/send", {"json": {"to": "0712345001"}}, 422),
        ("POST", "/api/v1/sms/send", {"json": {"to": "0712", "message": "x"}}, 422),
        ("POST", "/api/v1/sms/send", {"json": {"to": 712345001, "message": "x"}}, 422),
        ("POST", "/api/v1/sms/send", {"json": {"to": "0712345001", "message": "x" * 10_000}}, 422),
        (
            "POST",
            "/api/v1/sms/send",
            {"data": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        (
            "POST",
            "/api/v1/sms/send",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        (
            "POST",
            "/api/v1/sms/send",
            {"data": b"to=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
        ),
        ("POST", "/api/v1/sms/send", {"json": ["a list"]}, 400),
        ("POST", "/api/v1/broadcasts", {"json": {"audience": "club:itc", "message": "x"}}, 422),
        ("POST", "/api/v1/broadcasts", {"json": {"audience": "all", "message": "{bad}"}}, 422),
        (
            "POST",
            "/api/v1/broadcasts",
            {"json": {"audience": "all", "message": "x", "send_at": "tomorrow"}},
            422,
        ),
        ("GET", "/api/v1/broadcasts/999", {}, 404),
        ("GET", "/api/v1/broadcasts/abc", {}, 404),
        ("POST", "/api/v1/broadcasts/999/approve", {}, 404),
        ("POST", "/api/v1/sms/delivery_report", {"json": {"ids": ["x"]}}, 422),
        (
            "POST",
            "/api/v1/sms/send",
            {"data": b"x" * 2_000_000, "headers": {"Content-Type": "application/json"}},
            413,
        ),
    ],
)
async def test_bad_requests_get_4xx_json(
    api: Api, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    got, body = await api.call(method, path, **kwargs)
    assert got == status, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]


@pytest.mark.parametrize("token", [None, "wrong-token-0000000000000", API_TOKEN + "x"])
async def test_tokens_are_checked(api: Api, token: str | None) -> None:
    status, _body = await api.call(
        "POST", "/api/v1/sms/send", token=token, json={"to": "0712345001", "message": "hi"}
    )
    assert status == 401
    assert await db.count_rows(api.core.db, "outbox") == 0


async def test_openapi_document(api: Api) -> None:
    status, doc = await api.call("GET", "/api/v1/openapi.json", token=None)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert "/api/v1/broadcasts/{id}/approve" in doc["paths"]


async def test_healthz(api: Api) -> None:
    status, body = await api.call("GET", "/healthz", token=None)
    assert status == 200 and body["database"]["ok"] is True
    assert body["gateways"]["simulator"]["state"] == "up"


async def test_at_delivery_callback_secret_and_idempotence(api: Api, tmp_path: Path) -> None:
    core = api.core
    mid = await core.messaging.send_one("0712345001", "hi", person=core.config.people["dean"])
    await asyncio.sleep(0.3)
    carried = {"gateway": "africastalking", "provider_id": "ATXid_7e7a", "delivery_status": None}
    await db.update_outbox(core.db, carried, id=mid)  # pretend Africa's Talking carried it
    body = "id=ATXid_7e7a&status=Success&phoneNumber=%2B254712345001&networkCode=63902&retryCount=0"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = f"/callbacks/africastalking/{'x' * 20}/delivery"
    assert (await api.call("POST", bad, token=None, data=body, headers=form))[0] == 404
    path = f"/callbacks/africastalking/{CALLBACK_SECRET}/delivery"
    status, first = await api.call("POST", path, token=None, data=body, headers=form)
    assert status == 200 and first["result"] == "recorded"
    status, second = await api.call("POST", path, token=None, data=body, headers=form)
    assert status == 200 and second["result"] == "duplicate"
    late = body.replace("Success", "Buffered")  # a final state never moves backwards
    assert (await api.call("POST", path, token=None, data=late, headers=form))[1][
        "result"
    ] == "duplicate"
    assert (await core.messaging.statuses([mid]))[0]["delivery_status"] == "delivered"
    unknown = body.replace("ATXid_7e7a", "ATXid_nope")
    assert (await api.call("POST", path, token=None, data=unknown, headers=form))[0] == 404
    odd = body.replace("Success", "Teleported")
    assert (await api.call("POST", path, token=None, data=odd, headers=form))[0] == 400
