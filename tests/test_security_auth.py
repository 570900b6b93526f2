"""Secrets at every door: Slack v0 signatures, Telegram's secret token, AT path secret, bearer
tokens and body size limits. A refused request gets a 4xx and changes nothing at all."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import ClientSession

from tests.fakes.slack import block_actions_body, signature_headers, slash_command_body
from tests.fakes.telegram import callback_update, command_update
from tests.support.base import ADMIN_TOKEN, API_TOKEN, CALLBACK_SECRET, DEAN_TOKEN
from tests.support.chat import APPROVER, COMMS, SIGNING_SECRET, STAFF, TG_SECRET, wait_until
from tests.support.security import (
    CONSOLE_TOKEN,
    Fronts,
    all_fronts,
    changed_tables,
    snapshot,
)

FORM = "application/x-www-form-urlencoded"
AT = Path(__file__).parent / "fixtures" / "africastalking"
Headers = dict[str, str]


def v0(secret: str, ts: str, body: str) -> str:
    """Slack's v0 signature: HMAC-SHA256 over v0:{ts}:{body}, hex."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()


def _without(name: str) -> Callable[[str, int], tuple[str, Headers]]:
    def build(body: str, now: int) -> tuple[str, Headers]:
        headers = signature_headers(SIGNING_SECRET, body, timestamp=now)
        del headers[name]
        return body, headers

    return build


def _signed(
    secret: str = SIGNING_SECRET, *, age: int = 0, sent_ts: int | None = None
) -> Callable[[str, int], tuple[str, Headers]]:
    def build(body: str, now: int) -> tuple[str, Headers]:
        headers = signature_headers(secret, body, timestamp=now - age)
        if sent_ts is not None:
            headers["X-Slack-Request-Timestamp"] = str(now + sent_ts)
        return body, headers

    return build


def _tampered(body: str, now: int) -> tuple[str, Headers]:
    """Signed, then the clicking/sending user swapped for another approver: impersonation."""
    headers = signature_headers(SIGNING_SECRET, body, timestamp=now)
    forged = re.sub(r"U0[A-Z0-9]+", "U0APPR02", body)
    assert forged != body
    return forged, headers


def _scheme(prefix: str) -> Callable[[str, int], tuple[str, Headers]]:
    def build(body: str, now: int) -> tuple[str, Headers]:
        headers = signature_headers(SIGNING_SECRET, body, timestamp=now)
        headers["X-Slack-Signature"] = prefix + v0(SIGNING_SECRET, str(now), body)[3:]
        return body, headers

    return build


SLACK_BAD: dict[str, Callable[[str, int], tuple[str, Headers]]] = {
    "wrong signing secret": _signed("0" * 32),
    "bot token used as the secret": _signed("xoxb-1111-2222-chattesttoken"),
    "no signature header": _without("X-Slack-Signature"),
    "no timestamp header": _without("X-Slack-Request-Timestamp"),
    "no headers at all": lambda body, now: (body, {"Content-Type": FORM}),
    "tampered body": _tampered,
    "stale: 6 minutes old": _signed(age=360),
    "replayed after a day": _signed(age=86_400),
    "from the future: 6 minutes ahead": _signed(age=-360),
    "timestamp changed after signing": _signed(age=400, sent_ts=0),
    "v1 scheme": _scheme("v1="),
    "no scheme": _scheme(""),
    "empty signature": lambda body, now: (
        body,
        {**_signed()(body, now)[1], "X-Slack-Signature": ""},
    ),
}


async def test_slack_requests_need_a_fresh_valid_v0_signature(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        slack = app.slack
        body = slash_command_body(
            text="club:ict,club:chess “Exam moved to 9am”",
            user_id=STAFF.slack,
            channel_id=COMMS,
            response_url=slack.fake.response_url("T0001/1/sec"),
        )
        before = await snapshot(app.core)
        for case, build in SLACK_BAD.items():
            data, headers = build(body, int(time.time()))
            status, text = await app.post("/slack/events", data=data.encode(), headers=headers)
            assert status in (401, 403), (case, status, text)
        await asyncio.sleep(0.2)  # anything accepted would have been acted on by now
        assert changed_tables(before, await snapshot(app.core)) == []
        assert slack.fake.calls == [], "a rejected request reached Slack"

        fresh = signature_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 240)
        status, _ = await app.post("/slack/events", data=body.encode(), headers=fresh)
        assert status == 200  # four minutes old is inside the window
        assert "4 recipients" in (await slack.preview()).text
        await slack.card()
        async with asyncio.timeout(5):  # the preview's thread is remembered by a write of its own
            while "slack" not in (await app.core.broadcasts.view(1)).chat_refs:
                await asyncio.sleep(0.01)
        click = block_actions_body(
            "block_actions_approve.json",
            user_id=APPROVER.slack,
            value="1",
            response_url=slack.fake.response_url("T0001/2/click"),
        )
        before = await snapshot(app.core)
        calls = len(slack.fake.calls)
        for case in ("wrong signing secret", "stale: 6 minutes old", "tampered body"):
            data, headers = SLACK_BAD[case](click, int(time.time()))
            status, _ = await app.post("/slack/events", data=data.encode(), headers=headers)
            assert status in (401, 403), (case, status)
        await asyncio.sleep(0.2)
        assert changed_tables(before, await snapshot(app.core)) == []
        assert len(slack.fake.calls) == calls
        assert [(r[0], r[1]) for r in before["broadcasts"]] == [(1, "awaiting_approval")]


async def test_telegram_updates_need_the_secret_token(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        tg = app.telegram
        update = command_update(
            "/sms club:ict,club:chess “Exam moved”",
            user_id=STAFF.telegram,
            chat_id=STAFF.telegram,
            update_id=90,
            group=False,
        )
        before = await snapshot(app.core)
        for secret in (
            None,
            "",
            TG_SECRET + "x",
            TG_SECRET[:-1],
            TG_SECRET.upper(),
            SIGNING_SECRET,
        ):
            assert await tg.post(update, secret=secret) == 403, secret
        await asyncio.sleep(0.2)
        assert changed_tables(before, await snapshot(app.core)) == []
        assert tg.fake.calls == []
        assert await tg.post(update) == 200
        await wait_until(lambda: tg.fake.in_chat(STAFF.telegram), what="the preview")
        card = await tg.card()
        click = callback_update(
            "ap:1", user_id=APPROVER.telegram, message=tg.fake.message_json(card), update_id=91
        )
        before = await snapshot(app.core)
        calls = len(tg.fake.calls)
        for secret in (None, TG_SECRET + "x"):
            assert await tg.post(click, secret=secret) == 403
        await asyncio.sleep(0.2)
        assert changed_tables(before, await snapshot(app.core)) == []
        assert len(tg.fake.calls) == calls
        assert [(r[0], r[1]) for r in before["broadcasts"]] == [(1, "awaiting_approval")]


WRONG_CALLBACK_SECRETS = [
    CALLBACK_SECRET + "x",
    CALLBACK_SECRET[:-1],
    CALLBACK_SECRET.upper(),
    "x",
    API_TOKEN,
    "..",
]


async def test_at_callbacks_need_the_path_secret(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        inbound = (AT / "inbound_join.txt").read_bytes()
        report = (AT / "dlr_success.txt").read_bytes()
        before = await snapshot(app.core)
        headers = {"Content-Type": FORM}
        for secret in WRONG_CALLBACK_SECRETS:
            for kind, body in (("inbound", inbound), ("delivery", report)):
                url = f"/callbacks/africastalking/{secret}/{kind}"
                status, _ = await app.post(url, data=body, headers=headers)
                assert status == 404, (secret, kind, status)
        for url in ("/callbacks/africastalking//inbound", "/callbacks/africastalking/inbound"):
            assert (await app.post(url, data=inbound, headers=headers))[0] == 404
        assert changed_tables(before, await snapshot(app.core)) == []
        url = f"/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
        assert (await app.post(url, data=inbound, headers=headers))[0] == 200
        assert len((await snapshot(app.core))["inbound"]) == 1


BROADCAST = {"audience": "club:ict,club:chess", "message": "Exam at 9"}
UNKNOWN_TOKENS: list[Headers] = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": f"Basic {API_TOKEN}"},
    {"Authorization": API_TOKEN},
    {"Authorization": f"Bearer {API_TOKEN}x"},
    {"Authorization": f"Bearer {DEAN_TOKEN[:-1]}"},
    {"Authorization": f"Bearer {CALLBACK_SECRET}"},
    {"Authorization": f"Bearer {CONSOLE_TOKEN}"},
    {"X-Api-Key": API_TOKEN},
]


async def _json(app: Fronts, method: str, path: str, headers: Headers, body: object) -> int:
    async with (
        ClientSession() as session,
        session.request(method, app.server.make_url(path), json=body, headers=headers) as resp,
    ):
        return resp.status


async def test_rest_tokens_unknown_is_401_and_wrong_scope_is_403(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        before = await snapshot(app.core)
        calls = [
            ("POST", "/api/v1/broadcasts", BROADCAST),
            ("POST", "/api/v1/sms/send", {"to": "0712345001", "message": "hi"}),
            ("POST", "/api/v1/sms/retry", {"id": 1}),
            ("POST", "/api/v1/sms/delivery_report", {"ids": [1]}),
            ("GET", "/api/v1/broadcasts/1", None),
            ("POST", "/api/v1/broadcasts/1/approve", None),
            ("POST", "/api/v1/broadcasts/1/cancel", None),
        ]
        for headers in UNKNOWN_TOKENS:
            for method, path, body in calls:
                assert await _json(app, method, path, headers, body) == 401, (headers, path)
        assert changed_tables(before, await snapshot(app.core)) == []

        dean = {"Authorization": f"Bearer {DEAN_TOKEN}"}
        assert await _json(app, "POST", "/api/v1/broadcasts", dean, BROADCAST) == 201
        for token in (DEAN_TOKEN, API_TOKEN):  # the requester, then a staff member
            auth = {"Authorization": f"Bearer {token}"}
            assert await _json(app, "POST", "/api/v1/broadcasts/1/approve", auth, None) == 403
        rows = await snapshot(app.core)
        assert [r[1] for r in rows["broadcasts"]] == ["awaiting_approval"]
        assert rows["approvals"] == [] and rows["outbox"] == []
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert await _json(app, "GET", "/api/v1/broadcasts/1", admin, None) == 200


def _auth_for(path: str, body: bytes) -> Headers:
    """The right credentials for a route, so only the size can be what is refused."""
    if path.startswith("/slack/"):
        return signature_headers(SIGNING_SECRET, body.decode())
    if path.startswith("/telegram/"):
        return {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}
    if path.startswith("/callbacks/"):
        return {"Content-Type": FORM}
    token = CONSOLE_TOKEN if path.startswith("/console/") else DEAN_TOKEN
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_every_post_route_refuses_an_oversized_body_with_413(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        limit = app.core.config.server.max_body_bytes
        paths = []
        for resource in app.server.app.router.resources():
            if any(route.method == "POST" for route in resource):
                info = resource.get_info()
                template = str(info.get("formatter") or info.get("path"))
                paths.append(template.format(secret=CALLBACK_SECRET, id=1))
        assert len(paths) >= 10, paths
        bodiless = {"/api/v1/broadcasts/1/approve", "/api/v1/broadcasts/1/cancel"}
        before = await snapshot(app.core)
        pad = b"a" * (limit + 1)
        for path in paths:
            body = (b"text=" + pad) if path.startswith(("/slack", "/callbacks")) else pad
            status, text = await app.post(path, data=body, headers=_auth_for(path, body))
            if path in bodiless:  # these never read a body: it is dropped, not stored
                assert status == 404 and "no broadcast 1" in text, (path, status)
                continue
            assert status == 413, (path, status, text[:200])

            async def chunks(data: bytes = body) -> AsyncIterator[bytes]:
                for i in range(0, len(data), 65536):
                    yield data[i : i + 65536]

            async with (
                ClientSession() as session,
                session.post(
                    app.server.make_url(path), data=chunks(), headers=_auth_for(path, body)
                ) as resp,
            ):
                assert resp.status == 413, (path, "chunked", resp.status)
        assert changed_tables(before, await snapshot(app.core)) == []
        assert app.chat_calls() == 0
