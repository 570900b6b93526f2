"""The local console front: POST /console/command behind a token, for `smsops chat`."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.config.types import Config
from bot.validate import check_text
from handlers.chat.cards import Message
from handlers.chat.commands import Caller, Commands
from handlers.chat.console._token import token_path, write_token_file
from handlers.chat.front import FrontKind
from handlers.chat.notifier import ChatNotifier, Ref
from handlers.http import field, json_error, read_json, secret_matches

logger = logging.getLogger(__name__)


class LogSurface:
    """The console's chat surface: cards and progress go to the server log."""

    platform = "console"

    def __init__(self) -> None:
        self._count = 0

    def _ref(self, to: str) -> Ref:
        self._count += 1
        return {"to": to, "n": self._count}

    async def post(self, where: Ref, message: Message) -> Ref:
        """Log a new message."""
        logger.info("console → %s: %s", where.get("to"), message.text.replace("\n", " | "))
        return self._ref(str(where.get("to")))

    async def reply(self, root: Ref, message: Message) -> Ref:
        """Log a message for the requester."""
        logger.info("console → %s: %s", root.get("to"), message.text.replace("\n", " | "))
        return self._ref(str(root.get("to")))

    async def edit(self, ref: Ref, message: Message) -> None:
        """Log an update."""
        logger.info("console → %s (update): %s", ref.get("to"), message.text.replace("\n", " | "))


class ConsoleFront:
    """Runs commands sent by `smsops chat --as PERSON`, authenticated by the console token."""

    def __init__(self, commands: Commands, config: Config):
        self.commands = commands
        self.config = config
        self.notifier = ChatNotifier(
            LogSurface(),
            broadcasts=commands.core.broadcasts,
            config=config,
            approvals={"to": "approvers"},
            inbox={"to": "staff inbox"},
        )
        self.token = ""
        self._written: Path | None = None

    async def start(self) -> None:
        """Use the configured token, or write a fresh random one next to the database."""
        if self.config.console_token:
            self.token = self.config.console_token
        else:
            self.token = secrets.token_urlsafe(32)
            path = token_path(self.config)
            write_token_file(path, self.token)
            self._written = path
            logger.info("console token written to %s (mode 0600)", path)
        self.notifier.start()

    async def stop(self) -> None:
        """Stop the notifier and remove the token file this server wrote."""
        await self.notifier.close()
        path, self._written = self._written, None
        if path is not None:
            try:
                if path.read_text(encoding="utf-8").strip() == self.token:
                    path.unlink()
            except OSError as exc:
                logger.warning("could not remove %s: %s", path, exc)

    async def handle(self, request: web.Request) -> web.Response:
        """POST /console/command {person, command} → {ok, text, broadcast}."""
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.token or not secret_matches(given, self.token):
            return json_error(
                401,
                "unauthorized",
                "send Authorization: Bearer <console token>",
                **{"WWW-Authenticate": "Bearer"},
            )
        body = await read_json(request)
        person = field(body, "person", str)
        check_text(person, name="person")
        text = field(body, "command", str)
        caller = Caller("console", person, self.config.people.get(person))  # named by person id
        reply = await self.commands.run(text, caller)
        if reply.preview and reply.view is not None:
            await self.notifier.set_thread(reply.view.id, {"to": person})
        return web.json_response(
            {"ok": reply.ok, "text": reply.text, "broadcast": reply.view.id if reply.view else None}
        )


def _build(settings: Config, *, commands: Commands, session: aiohttp.ClientSession) -> ConsoleFront:
    """The console's settings are the whole config; it needs no HTTP session (it only logs)."""
    return ConsoleFront(commands, settings)


KIND = FrontKind(
    platform="console", path="/console/command", settings=lambda config: config, build=_build
)
