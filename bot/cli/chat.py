"""`smsops chat` (a chat command to the running server) and `smsops telegram set-webhook`."""

from __future__ import annotations

import argparse
import logging
import re
from functools import partial
from typing import Any

import aiohttp

from bot.config.types import Config
from bot.edges import Fronts
from bot.errors import UserError

logger = logging.getLogger(__name__)

_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ANY_HOST = ("", "0.0.0.0", "::")


def register(sub: Any, *, fronts: Fronts) -> None:
    """Add the chat and telegram commands."""
    chat = sub.add_parser("chat", help="run a chat command on the running server, as a person")
    chat.add_argument("--as", dest="person", required=True, help="person id from config")
    chat.add_argument("--url", help="server address (default: from [server] in config)")
    chat.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help='e.g. "status 12", "approve 12" or \'club:ict "Meeting at 5pm"\'',
    )
    chat.set_defaults(handler=partial(chat_cmd, fronts=fronts))
    tg = sub.add_parser("telegram", help="Telegram set-up").add_subparsers(
        dest="telegram_command", metavar="ACTION", required=True
    )
    hook = tg.add_parser("set-webhook", help="register the webhook URL and its secret at Telegram")
    hook.add_argument("url", nargs="?", help="default: <server.public_url>/telegram/webhook")
    hook.add_argument("--drop-pending-updates", action="store_true")
    hook.set_defaults(handler=partial(set_webhook_cmd, fronts=fronts))


def join_words(words: list[str]) -> str:
    """One command line from argv: one word is the whole command; else re-quote spaced words."""
    if len(words) == 1:
        return words[0]
    out = []
    for word in words:
        if any(c.isspace() for c in word) and not word.startswith(('"', "“", "'")):
            out.append(f"“{word}”" if '"' in word else f'"{word}"')
        else:
            out.append(word)
    return " ".join(out)


def server_url(config: Config) -> str:
    """The local address of the running server, from [server]."""
    host, port = config.server.host, config.server.port
    if port == 0:
        raise UserError("[server] port is 0 (chosen at start-up): pass --url http://HOST:PORT")
    host = "127.0.0.1" if host in _ANY_HOST else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


async def chat_cmd(args: argparse.Namespace, config: Config, *, fronts: Fronts) -> int:
    """Send one command to POST /console/command and print the reply."""
    command = join_words(list(args.words)).strip()
    if not command:
        raise UserError('say what to run, e.g. smsops chat --as dean "status 12"')
    token = fronts.console_token(config)
    if token is None:
        raise UserError(
            f"no console token: set [api] console_token, or start `smsops serve` "
            f"(it writes {fronts.console_token_path(config)})"
        )
    base = (args.url or server_url(config)).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"person": args.person, "command": command}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            session.post(f"{base}/console/command", json=payload, headers=headers) as resp,
        ):
            body = await resp.json(content_type=None)
            status = resp.status
    except aiohttp.ClientConnectionError:
        raise UserError(f"cannot reach the server at {base}: is `smsops serve` running?") from None
    if status == 401:
        raise UserError("the server refused the console token: restart it or check console_token")
    if status != 200 or not isinstance(body, dict):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise UserError(f"server answered {status}: {error.get('message', body)}")
    print(body.get("text", ""))
    return 0 if body.get("ok") else 1


async def set_webhook_cmd(args: argparse.Namespace, config: Config, *, fronts: Fronts) -> int:
    """setWebhook with the configured secret_token, so only Telegram can post updates."""
    settings = config.telegram
    if settings is None:
        raise UserError("no [telegram] section in config")
    if not _TELEGRAM_SECRET.match(settings.webhook_secret):
        raise UserError("telegram.webhook_secret: use 1-256 letters, digits, _ or - only")
    url = args.url or config.server.public_url.rstrip("/") + "/telegram/webhook"
    if not url.startswith("https://"):
        logger.warning("Telegram only delivers webhooks to https:// URLs; %s is not one", url)
    await fronts.set_telegram_webhook(
        settings, url=url, drop_pending_updates=args.drop_pending_updates
    )
    print(f"webhook set: {url}")
    return 0
