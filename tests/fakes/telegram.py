"""A fake Telegram Bot API on 127.0.0.1, and Update builders from tests/fixtures/telegram/.

It answers /bot<token>/getMe, sendMessage, editMessageText, answerCallbackQuery and setWebhook
with the JSON shapes the Bot API returns, keeps the messages it sent (so a card can be read after
edits), refuses edits that change nothing like Telegram does, and records every call.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"
BOT_NAME = "SmsOpsBot"
TEXT_LIMIT = 4096  # UTF-16 code units after entity parsing, as the Bot API counts them
TOO_LONG = "Bad Request: message is too long"


def utf16_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(slots=True)
class TelegramCall:
    """One Bot API call: the method and its parameters (JSON values decoded)."""

    method: str
    params: dict[str, Any]


@dataclass(slots=True)
class SentMessage:
    """A message the bot sent, as the fake keeps it."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    reply_to: int | None
    edits: int = 0
    history: list[str] = field(default_factory=list)

    def callback_data(self) -> list[str]:
        """Every inline button's callback_data."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


def _decode(raw: str) -> Any:
    """Form values: objects, lists and booleans are JSON; numbers and text stay as sent."""
    if raw in ("true", "false") or raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "first_name": "Staff", "type": "private"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "title": "SMS approvals", "type": kind}


class FakeTelegram:
    """A real aiohttp server standing in for api.telegram.org."""

    def __init__(self, *, token: str, bot_id: int, username: str = BOT_NAME):
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.calls: list[TelegramCall] = []
        self.messages: dict[tuple[int, int], SentMessage] = {}
        self.webhook: dict[str, Any] = {}
        self.base_url = ""
        self._next_id = 1000
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        """The Bot API base as python-telegram-bot wants it (config telegram.api_base_url)."""
        return f"{self.base_url}/bot"

    @property
    def me(self) -> dict[str, Any]:
        """getMe's User."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "SMS Ops",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, method: str) -> list[TelegramCall]:
        """Calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    def in_chat(self, chat_id: int) -> list[SentMessage]:
        """Messages sent to a chat, oldest first."""
        return [m for m in self.messages.values() if m.chat_id == chat_id]

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            params = json.loads(raw or b"{}")
        else:
            params = {k: _decode(v) for k, v in parse_qsl(raw.decode("utf-8"))}
        self.calls.append(TelegramCall(method, params))
        handler = {
            "getMe": lambda p: self._ok(self.me),
            "sendMessage": self._send,
            "editMessageText": self._edit,
            "answerCallbackQuery": lambda p: self._ok(True),
            "setWebhook": self._set_webhook,
        }.get(method)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return handler(params)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": code, "description": description}, status=code
        )

    def message_json(self, msg: SentMessage) -> dict[str, Any]:
        """The Message JSON Telegram would show for a sent message."""
        out: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": self.me,
            "chat": _chat(msg.chat_id),
            "date": int(time.time()),
            "text": msg.text,
        }
        if msg.edits:
            out["edit_date"] = int(time.time())
        if msg.reply_markup:
            out["reply_markup"] = msg.reply_markup
        return out

    def _send(self, params: dict[str, Any]) -> web.Response:
        if not str(params.get("text", "")).strip():
            return self._error(400, "Bad Request: message text is empty")
        if utf16_length(str(params["text"]).strip()) > TEXT_LIMIT:
            return self._error(400, TOO_LONG)
        self._next_id += 1
        reply = params.get("reply_parameters") or {}
        markup = params.get("reply_markup")
        msg = SentMessage(
            chat_id=int(params["chat_id"]),
            message_id=self._next_id,
            text=str(params["text"]),
            reply_markup=markup
            if isinstance(markup, dict) and "inline_keyboard" in markup
            else None,
            reply_to=reply.get("message_id") if isinstance(reply, dict) else None,
            history=[str(params["text"])],
        )
        self.messages[(msg.chat_id, msg.message_id)] = msg
        return self._ok(self.message_json(msg))

    def _edit(self, params: dict[str, Any]) -> web.Response:
        msg = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if msg is None:
            return self._error(400, "Bad Request: message to edit not found")
        if utf16_length(str(params["text"]).strip()) > TEXT_LIMIT:
            return self._error(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = params.get("reply_markup")
        markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if str(params["text"]) == msg.text and markup == msg.reply_markup:
            return self._error(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        msg.text, msg.reply_markup = str(params["text"]), markup
        msg.edits += 1
        msg.history.append(msg.text)
        return self._ok(self.message_json(msg))

    def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = dict(params)
        return self._ok(True)


# --- updates as Telegram posts them -----------------------------------------------------------


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _message_update(
    fixture: str, text: str, *, user_id: int, chat_id: int, update_id: int
) -> dict[str, Any]:
    update = copy.deepcopy(_fixture(fixture))
    update["update_id"] = update_id
    message = update["message"]
    message["message_id"] = update_id
    message["from"]["id"] = user_id
    message["chat"]["id"] = chat_id
    message["text"] = text
    return update


def command_update(
    text: str, *, user_id: int, chat_id: int, update_id: int, group: bool = True
) -> dict[str, Any]:
    """A message update carrying a bot_command entity, e.g. `/sms@SmsOpsBot club:ict “Hi”`."""
    fixture = "command_group.json" if group else "command_private.json"
    update = _message_update(fixture, text, user_id=user_id, chat_id=chat_id, update_id=update_id)
    message = update["message"]
    command = text.split(maxsplit=1)[0]
    message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    return update


def callback_update(
    data: str, *, user_id: int, message: dict[str, Any], update_id: int
) -> dict[str, Any]:
    """A callback_query update for a button under `message` (as the fake sent it)."""
    update = copy.deepcopy(_fixture("callback_query.json"))
    update["update_id"] = update_id
    query = update["callback_query"]
    query["id"] = f"{4382000000000000000 + update_id}"
    query["from"]["id"] = user_id
    query["message"] = message
    query["data"] = data
    return update


def reply_update(
    text: str, *, user_id: int, chat_id: int, to: dict[str, Any], update_id: int
) -> dict[str, Any]:
    """A text message that replies to one of the bot's messages (e.g. a ForceReply prompt)."""
    update = _message_update(
        "reply_to_bot.json", text, user_id=user_id, chat_id=chat_id, update_id=update_id
    )
    update["message"]["reply_to_message"] = to
    return update
