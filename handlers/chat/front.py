"""What a chat front is: the `Front` protocol, and the `FrontKind` entry that mounts one.

A new front (Mattermost, Teams) is one new package under handlers/chat/ exporting a `KIND`
(its front, surface and rendering inside), plus that `KIND` in handlers.chat.wiring.FRONTS;
if its users are named in [people.<id>], one more entry in bot.config.sections.PERSON_IDS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import aiohttp
from aiohttp import web

from bot.config.types import Config
from bot.notify import Notifier
from handlers.chat.commands import Commands

S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)


class Front(Protocol):
    """A chat front built on the core: its route's handler, and the notifier the core tells."""

    @property
    def notifier(self) -> Notifier:
        """Where the core's cards, progress, inbox posts and alerts go on this platform."""

    async def start(self) -> None:
        """Start the front and its notifier, without any network call."""

    async def stop(self) -> None:
        """Finish briefly what is in flight, then stop the front and its notifier."""

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one request to the front's route."""


class Build(Protocol[S_contra]):
    """Builds a front from its config section, on the command layer and the shared session."""

    def __call__(
        self, settings: S_contra, *, commands: Commands, session: aiohttp.ClientSession
    ) -> Front:
        """A front, not yet started."""


@dataclass(frozen=True, slots=True)
class FrontKind(Generic[S]):
    """One kind of front: its platform, its route, its config section, and how to build it."""

    platform: str  # named in audit records; a person's id here is Person.ids[platform]
    path: str  # the POST route the platform (or `smsops chat`) calls
    settings: Callable[[Config], S | None]  # the front's section; None when not configured
    build: Build[S]

    def configured(self, config: Config) -> bool:
        """Whether the config sets this front up."""
        return self.settings(config) is not None
