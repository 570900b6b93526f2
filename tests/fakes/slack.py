"""A fake Slack Web API and response_url receiver on 127.0.0.1, plus signed-request helpers.

It answers chat.postMessage, chat.update, chat.postEphemeral and auth.test with the JSON shapes
Slack sends, keeps the messages it was given (so tests can read a card after edits), and records
every call. Requests to Slack are built from the real payloads under tests/fixtures/slack/.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
BOT_USER = "U0SMSOPSBOT"
BOT_ID = "B0SMSOPSBOT"
SECTION_LIMIT = 3000  # characters of a section block's text, as Slack refuses longer ones


def invalid_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """Slack's complaint about blocks it would refuse (a section text over its limit), or None."""
    for n, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "") if block.get("type") == "section" else ""
        if len(text) > SECTION_LIMIT:
            where = f"[json-pointer:/blocks/{n}/text/text]"
            return f"must be less than {SECTION_LIMIT + 1} characters {where}"
    return None


@dataclass(slots=True)
class SlackCall:
    """One request the fake received."""

    method: str  # e.g. chat.postMessage, or "response_url"
    payload: dict[str, Any]
    path: str
    authorization: str | None


@dataclass(slots=True)
class SlackMessage:
    """A message as the fake keeps it, with every version it had."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    edits: int = 0
    history: list[str] = field(default_factory=list)

    def buttons(self) -> list[dict[str, Any]]:
        """Every button element in the message's blocks."""
        return [
            e
            for b in self.blocks
            if b.get("type") == "actions"
            for e in b.get("elements", [])
            if e.get("type") == "button"
        ]


class FakeSlack:
    """A real aiohttp server standing in for slack.com/api and hooks.slack.com."""

    def __init__(self, *, token: str, not_in_channels: tuple[str, ...] = ()):
        self.token = token
        self.not_in_channels = set(not_in_channels)
        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], SlackMessage] = {}
        self.base_url = ""
        self._seq = 0
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        """The Web API base URL (config slack.api_base_url)."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "T0001/1111/abcd") -> str:
        """A response_url that lands on this fake."""
        return f"{self.base_url}/commands/{name}"

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/commands/{rest:.*}", self._response_url)
        app.router.add_post("/actions/{rest:.*}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- queries for tests ---------------------------------------------------------------------

    def of(self, method: str) -> list[SlackCall]:
        """Calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    def in_channel(self, channel: str, *, thread_ts: str | None = None) -> list[SlackMessage]:
        """Messages in a channel (optionally only one thread's replies), oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.channel == channel and (thread_ts is None or m.thread_ts == thread_ts)
        ]

    # --- handlers ------------------------------------------------------------------------------

    async def _payload(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            value = json.loads(raw or b"{}")
            return value if isinstance(value, dict) else {}
        return dict(parse_qsl(raw.decode("utf-8")))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await self._payload(request)
        auth = request.headers.get("Authorization")
        self.calls.append(SlackCall(method, payload, request.path, auth))
        token = payload.get("token") or (auth or "").removeprefix("Bearer ").strip()
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://example.slack.com/",
                    "team": "Example",
                    "user": "smsops",
                    "team_id": "T0001",
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                }
            )
        if method in ("chat.postMessage", "chat.postEphemeral"):
            return self._post(method, payload)
        if method == "chat.update":
            return self._update(payload)
        return web.json_response({"ok": False, "error": "unknown_method"})

    def _post(self, method: str, payload: dict[str, Any]) -> web.Response:
        channel = str(payload.get("channel", ""))
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if channel in self.not_in_channels:
            return web.json_response({"ok": False, "error": "not_in_channel"})
        self._seq += 1
        ts = f"{1_700_000_000 + self._seq}.{self._seq:06d}"
        if method == "chat.postEphemeral":
            return web.json_response({"ok": True, "message_ts": ts})
        blocks = payload.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if problem := invalid_blocks(blocks):
            return self._refuse(problem)
        thread_ts = payload.get("thread_ts")
        text = str(payload.get("text", ""))
        self.messages[(channel, ts)] = SlackMessage(
            channel, ts, text, blocks, thread_ts, history=[text]
        )
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "ts": ts,
            "bot_id": BOT_ID,
            "user": BOT_USER,
            "blocks": blocks,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, payload: dict[str, Any]) -> web.Response:
        key = (str(payload.get("channel", "")), str(payload.get("ts", "")))
        msg = self.messages.get(key)
        if msg is None:
            return web.json_response({"ok": False, "error": "message_not_found"})
        blocks = payload.get("blocks") or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if problem := invalid_blocks(blocks):
            return self._refuse(problem)
        msg.blocks = blocks
        msg.text = str(payload.get("text", ""))
        msg.edits += 1
        msg.history.append(msg.text)
        return web.json_response(
            {
                "ok": True,
                "channel": key[0],
                "ts": key[1],
                "text": msg.text,
                "message": {
                    "type": "message",
                    "text": msg.text,
                    "user": BOT_USER,
                    "bot_id": BOT_ID,
                    "blocks": msg.blocks,
                },
            }
        )

    @staticmethod
    def _refuse(problem: str) -> web.Response:
        return web.json_response(
            {
                "ok": False,
                "error": "invalid_blocks",
                "errors": [problem],
                "response_metadata": {"messages": [f"[ERROR] {problem}"]},
            }
        )

    async def _response_url(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        blocks = payload.get("blocks") or []
        if problem := invalid_blocks(json.loads(blocks) if isinstance(blocks, str) else blocks):
            return web.Response(status=400, text=f"invalid_blocks: {problem}")
        self.calls.append(SlackCall("response_url", payload, request.path, None))
        return web.Response(text="ok")


# --- building signed requests as Slack sends them -----------------------------------------------


def signature_headers(secret: str, body: str, *, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and the v0 HMAC-SHA256 signature over v0:{ts}:{body}."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command_body(**fields: str) -> str:
    """The recorded slash-command form body, with some fields replaced (order kept)."""
    raw = (FIXTURES / "slash_command.txt").read_text(encoding="utf-8").strip()
    pairs = [(k, fields.pop(k, v)) for k, v in parse_qsl(raw, keep_blank_values=True)]
    assert not fields, f"fields not in the fixture: {sorted(fields)}"
    return urlencode(pairs)


def block_actions_body(
    fixture: str, *, user_id: str, value: str, response_url: str, action_id: str | None = None
) -> str:
    """A recorded block_actions payload (form field `payload=`), with who clicked what."""
    payload = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    payload["user"]["id"] = user_id
    payload["response_url"] = response_url
    action = payload["actions"][0]
    action["value"] = value
    if action_id is not None:
        action["action_id"] = action_id
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
