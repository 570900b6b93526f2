"""Every HTTP route of the app, registered in one place."""

from __future__ import annotations

from aiohttp import web

from bot.config.types import Config
from handlers.callbacks import add_callback_routes
from handlers.chat.wiring import add_chat_routes
from handlers.http import errors_middleware
from handlers.rest import add_rest_routes


def add_routes(app: web.Application, config: Config) -> None:
    """Install the error middleware and all routes."""
    app.middlewares.append(errors_middleware)
    add_callback_routes(app)
    add_rest_routes(app)
    add_chat_routes(app, config)
