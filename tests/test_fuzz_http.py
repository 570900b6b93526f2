"""Hypothesis-driven bad requests to every HTTP route: never a 5xx, and a 4xx changes nothing."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from aiohttp import ClientSession, TCPConnector
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.server import build_app
from handlers.routes import add_routes
from tests.fakes.slack import FakeSlack, block_actions_body, slash_command_body
from tests.fakes.telegram import command_update
from tests.support import db
from tests.support.base import ADMIN_TOKEN, API_TOKEN, CALLBACK_SECRET, DEAN_TOKEN
from tests.support.chat import (
    APPROVER,
    SIGNING_SECRET,
    STAFF,
    TG_SECRET,
    chat_config,
    core_of,
)
from tests.support.db import Snapshot
from tests.support.security import CONSOLE_TOKEN, all_fronts

FIXTURES = Path(__file__).parent / "fixtures"
#: Examples per route; FUZZ_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))

#: Every (method, route) of the app with Slack and Telegram configured; checked against the router.
ROUTES = [
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("POST", "/callbacks/africastalking/{secret}/delivery"),
    ("POST", "/callbacks/africastalking/{secret}/inbound"),
    ("POST", "/api/v1/sms/send"),
    ("POST", "/api/v1/sms/retry"),
    ("POST", "/api/v1/sms/delivery_report"),
    ("POST", "/api/v1/broadcasts"),
    ("GET", "/api/v1/broadcasts/{id}"),
    ("HEAD", "/api/v1/broadcasts/{id}"),
    ("POST", "/api/v1/broadcasts/{id}/approve"),
    ("POST", "/api/v1/broadcasts/{id}/cancel"),
    ("GET", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"),
    ("POST", "/console/command"),
    ("POST", "/slack/events"),
    ("POST", "/telegram/webhook"),
]


@dataclass
class Target:
    """The running app, its fakes, and the seeds that look like what each sender really sends."""

    server: TestServer
    session: ClientSession
    seeds: dict[str, list[bytes]] = field(default_factory=dict)
    busy: bool = True  # work a 2xx started may still be writing

    @property
    def limit(self) -> int:
        return int(core_of(self.server).config.server.max_body_bytes)


def _family(template: str) -> str:
    """Which kind of genuine body a route takes (the key into Target.seeds)."""
    for prefix, family in (
        ("/callbacks/africastalking/{secret}/delivery", "dlr"),
        ("/callbacks/africastalking/{secret}/inbound", "inbound"),
        ("/slack", "slack"),
        ("/telegram", "telegram"),
        ("/console", "console"),
        ("/api/v1/sms/send", "send"),
        ("/api/v1/sms/retry", "retry"),
        ("/api/v1/sms/delivery_report", "ids"),
        ("/api/v1/broadcasts", "broadcast"),
    ):
        if template.startswith(prefix):
            return family
    return "none"


def _seeds(slack: FakeSlack) -> dict[str, list[bytes]]:
    at = FIXTURES / "africastalking"
    reply = slack.response_url("T0001/9/fuzz")
    tg = command_update("/sms help", user_id=STAFF.telegram, chat_id=5001, update_id=9, group=False)
    tg_click = json.loads((FIXTURES / "telegram" / "callback_query.json").read_bytes())
    as_json: dict[str, list[dict[str, Any]]] = {
        "send": [{"to": "0712345001", "message": "Fuzz hello"}],
        "retry": [{"id": 1}],
        "ids": [{"ids": [1, 2, 3]}],
        "broadcast": [
            {"audience": "club:ict", "message": "Fuzz", "kind": "promo"},
            {"audience": "all", "message": "Fuzz", "send_at": "2026-12-01T09:00"},
        ],
        "console": [
            {"person": "dean", "command": "help"},
            {"person": STAFF.id, "command": "groups"},
        ],
        "telegram": [tg, tg_click],
    }
    seeds = {name: [json.dumps(v).encode() for v in values] for name, values in as_json.items()}
    seeds["dlr"] = [p.read_bytes().strip() for p in sorted(at.glob("dlr_*.txt"))]
    seeds["inbound"] = [p.read_bytes().strip() for p in sorted(at.glob("inbound_*.txt"))]
    seeds["slack"] = [
        slash_command_body(user_id=STAFF.slack, response_url=reply, text="help").encode(),
        block_actions_body(
            "block_actions_approve.json", user_id=APPROVER.slack, value="1", response_url=reply
        ).encode(),
    ]
    seeds["none"] = [b""]
    return seeds


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[Target]:
    connector = TCPConnector(force_close=True)  # a refused body may end its connection
    async with all_fronts(tmp_path) as fronts, ClientSession(connector=connector) as session:
        core = fronts.core  # broadcast 1 exists, so the {id} routes can reach it
        registrar = core.config.people["registrar"]
        await core.broadcasts.compose(audience="club:ict", message="Hi", requester=registrar)
        yield Target(fronts.server, session, _seeds(fronts.slack.fake))


# --- strategies -------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
SECRETS = st.sampled_from(
    [CALLBACK_SECRET, CALLBACK_SECRET[:-1], CALLBACK_SECRET + "x", CALLBACK_SECRET.upper(), "x"]
)
IDS = (
    st.integers(0, 2**70).map(str)
    | st.sampled_from(["1", "0", "-1", "01", "1e3", "²", "①", "١٢", "9" * 19, " 1", "1.0"])
    | TEXT
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=no-such-charset",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=no-such-charset",
        "multipart/form-data; boundary=fuzzbound",
        "multipart/form-data",
        "text/plain; charset=utf-8",
        "application/octet-stream",
        ";;;",
    ]
) | HEADER_TEXT.map(lambda s: s or None)
AUTH = st.sampled_from(
    [
        None,
        f"Bearer {API_TOKEN}",
        f"Bearer {DEAN_TOKEN}",
        f"Bearer {ADMIN_TOKEN}",
        f"Bearer {CONSOLE_TOKEN}",
        f"bearer  {API_TOKEN}",
        f"Basic {API_TOKEN}",
        "Bearer",
        "Bearer wrong-token-000000000000",
    ]
) | HEADER_TEXT.map(lambda s: s or None)
TOKENS = st.sampled_from([API_TOKEN, DEAN_TOKEN, ADMIN_TOKEN]).map(lambda t: f"Bearer {t}")
ENCODINGS = st.sampled_from([None, None, None, "gzip", "deflate", "br", "identity", "x-bogus"])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | TEXT
    | st.sampled_from(["0712345001", "club:ict", "dean", "approve", "help"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["to", "message", "audience", "id", "ids", "kind", "send_at", "person", "command", "update_id"]
)


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _invalid_utf8(text: str, junk: bytes) -> bytes:
    raw = text.encode()
    return raw[: len(raw) // 2] + junk + raw[len(raw) // 2 :]


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--fuzzbound\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        out += value + b"\r\n"
    return out + b"--fuzzbound--\r\n"


def _mutate_form(raw: bytes, key: str, value: str, *, drop: bool) -> bytes:
    pairs = [(k, v) for k, v in parse_qsl(raw.decode(), keep_blank_values=True)]
    if drop and pairs:
        del pairs[len(value) % len(pairs)]
    else:
        pairs.append((key, value))
    return urlencode(pairs, errors="surrogatepass").encode()


@st.composite
def bodies(draw: st.DrawFn, target: Target, template: str) -> bytes:
    """The route's genuine bodies, mutated ones, junk, broken UTF-8, odd JSON, or too much."""
    own = target.seeds[_family(template)]
    every = [b for family in target.seeds.values() for b in family]
    kind = draw(
        st.sampled_from(
            ["own", "own", "mutated", "mutated", "other", "bytes", "utf8", "json", "deep"]
            + ["bigint", "multipart", "huge"]
        )
    )
    if kind == "own":
        return draw(st.sampled_from(own))
    if kind == "mutated":
        base = draw(st.sampled_from(own))
        if base.startswith(b"{"):
            value = json.loads(base)
            value[draw(FIELDS | TEXT)] = draw(JSON_VALUES)
            return json.dumps(value).encode()
        return _mutate_form(base, draw(FIELDS), draw(TEXT), drop=draw(st.booleans()))
    if kind == "other":
        return draw(st.sampled_from(every))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "utf8":
        junk = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00"])
        return _invalid_utf8(draw(st.sampled_from(every)).decode(), draw(junk))
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "deep":
        return _deep(draw(st.sampled_from([1_000, 100_000])), draw(st.sampled_from(["list", "o"])))
    if kind == "bigint":
        return b'{"id": ' + b"7" * draw(st.sampled_from([4_301, 50_000])) + b"}"
    if kind == "multipart":
        part = st.tuples(FIELDS, st.none() | st.just("x.csv"), st.binary(max_size=40))
        return _multipart(draw(st.lists(part, max_size=4)))
    return b"x" * (target.limit + draw(st.integers(1, 100_000)))


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def slack_headers(body: bytes, *, age: int, secret: str) -> dict[str, str]:
    """X-Slack-Request-Timestamp and a v0 signature over the raw body bytes."""
    ts = str(int(time.time()) - age)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _right(path: str) -> dict[str, str]:
    """The headers a genuine sender would put on this route."""
    if path.startswith(("/callbacks", "/slack")):
        return {"Content-Type": "application/x-www-form-urlencoded"}
    token = CONSOLE_TOKEN if path.startswith("/console") else API_TOKEN
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


@st.composite
def requests(draw: st.DrawFn, target: Target, route: tuple[str, str]) -> Req:
    """One request aimed at a route: mostly what a real sender sends, with parts fuzzed."""
    method, template = route
    other = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
    method = draw(other) if draw(st.integers(0, 5)) == 5 else method

    def pick(right: Any, fuzz: st.SearchStrategy[Any]) -> Any:
        return right if draw(st.integers(0, 3)) < 3 else draw(fuzz)  # 0 (right) is drawn most

    path = template.replace("{secret}", quote(pick(CALLBACK_SECRET, SECRETS | TEXT), safe=""))
    path = path.replace("{id}", quote(pick("1", IDS), safe=""))
    with_body = method not in ("GET", "HEAD") or draw(st.booleans())
    body = draw(bodies(target, template)) if with_body else b""
    right = _right(template)
    if template.startswith("/api/"):
        right["Authorization"] = draw(TOKENS)
    headers: dict[str, str] = {}
    for name, value in (
        ("Content-Type", pick(right["Content-Type"], CONTENT_TYPES)),
        ("Authorization", pick(right.get("Authorization"), AUTH)),
        ("Content-Encoding", pick(None, ENCODINGS)),
        ("X-Telegram-Bot-Api-Secret-Token", pick(TG_SECRET, st.sampled_from([None, "nope"]))),
    ):
        if value is not None:
            headers[name] = value
    if method == "HEAD":  # aiohttp's parser answers a HEAD it cannot decode with a body
        headers.pop("Content-Encoding", None)
    if headers.get("Content-Encoding") == "gzip" and draw(st.booleans()):
        body = gzip.compress(body)
    signing = pick("valid", st.sampled_from(["none", "stale", "wrong", "garbage"]))
    if signing in ("valid", "stale", "wrong"):
        secret = SIGNING_SECRET if signing != "wrong" else "not-the-signing-secret"
        headers.update(slack_headers(body, age=600 if signing == "stale" else 0, secret=secret))
    elif signing == "garbage":
        headers["X-Slack-Request-Timestamp"] = draw(HEADER_TEXT)
        headers["X-Slack-Signature"] = draw(HEADER_TEXT)
    return Req(method, path, headers, body)


# --- the properties ---------------------------------------------------------------------------


async def snapshot(target: Target) -> Snapshot:
    """Every row of every table (audit rows of refusals aside), in a stable order."""
    # A refused approval is audited on purpose (who tried what); that row is the one allowed write.
    return await db.snapshot(core_of(target.server).db, internal=True, refusals=False)


async def settle(target: Target) -> Snapshot:
    """Wait until work a 2xx started (sends, deliveries, replies) is done; the quiet snapshot."""
    last = await snapshot(target)
    if not target.busy:
        return last
    async with asyncio.timeout(10):
        while True:
            await asyncio.sleep(0.04)
            moving = await db.in_flight(core_of(target.server).db, time.time() + 1)
            now = await snapshot(target)
            if now == last and not moving:
                target.busy = False
                return now
            last = now


async def send(target: Target, req: Req) -> tuple[int, bytes]:
    url = URL(str(target.server.make_url("/")).rstrip("/") + req.path, encoded=True)
    async with target.session.request(
        req.method,
        url,
        data=req.body,
        headers=req.headers,
        skip_auto_headers=["Content-Type"],
        compress=None,
    ) as resp:
        return resp.status, await resp.read()


def test_every_route_is_fuzzed(tmp_path: Path) -> None:
    config = chat_config(
        tmp_path, slack_url="http://127.0.0.1:9/", telegram_url="http://127.0.0.1:9"
    )
    app = build_app(config, mount=add_routes)
    served = {(r.method, res.canonical) for res in app.router.resources() for r in res}
    assert served == set(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_request_gets_a_5xx_and_a_4xx_writes_nothing(
    target: Target, route: tuple[str, str], data: st.DataObject
) -> None:
    before = await settle(target)
    req = data.draw(requests(target, route))
    status, body = await send(target, req)
    event(f"status {status}")
    target.busy = target.busy or (status < 400 and req.method not in ("GET", "HEAD"))
    assert status < 500, (status, body[:300])
    if 400 <= status < 500:
        assert await snapshot(target) == before, (status, body[:300])
        parsed_by_app = "Content-Encoding" not in req.headers  # else aiohttp's parser may answer
        chat = route[1].startswith(("/slack", "/telegram"))
        if parsed_by_app and req.method != "HEAD" and not chat:
            error = json.loads(body)["error"]
            assert set(error) == {"code", "message"} and error["message"]
    health, _ = await send(target, Req("GET", "/healthz", {}, b""))
    assert health == 200
