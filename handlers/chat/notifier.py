"""A Notifier for one chat platform: approval cards, the requester's thread, inbox and alerts.

Work is queued and done by one task per platform, so a slow chat API never slows sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.broadcasts.service import BroadcastService
from bot.config.types import Config
from bot.dispatch.settle import PROGRESS_SECONDS
from bot.views import BroadcastState, BroadcastView, InboxView
from handlers.chat import cards
from handlers.chat.cards import Message

logger = logging.getLogger(__name__)

Ref = dict[str, Any]
TRAILING_SECONDS = PROGRESS_SECONDS + 0.5  # after the core's own throttle window has passed
MAX_TRACKED = 2000


class Surface(Protocol):
    """How one platform posts, replies in a thread, and edits messages."""

    platform: str

    async def post(self, where: Ref, message: Message) -> Ref:
        """Post a new message; return a reference for edits and replies."""

    async def reply(self, root: Ref, message: Message) -> Ref:
        """Post under `root` (a thread reply); return its reference."""

    async def edit(self, ref: Ref, message: Message) -> None:
        """Replace a posted message's text and buttons."""


def _cap(mapping: dict[Any, Any]) -> None:
    while len(mapping) > MAX_TRACKED:
        mapping.pop(next(iter(mapping)))


class ChatNotifier:
    """Implements bot.notify.Notifier for one Surface."""

    def __init__(
        self,
        surface: Surface,
        *,
        broadcasts: BroadcastService,
        config: Config,
        approvals: Ref | None,
        inbox: Ref | None,
        interval: float = TRAILING_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.surface = surface
        self.platform = surface.platform
        self.broadcasts = broadcasts
        self.config = config
        self.approvals = approvals
        self.inbox_to = inbox
        self.interval = interval
        self.monotonic = monotonic
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._threads: dict[int, Ref] = {}
        self._cards: dict[int, Ref] = {}
        self._shown: dict[str, str] = {}
        self._last: dict[int, float] = {}
        self._closing = False

    def start(self) -> None:
        """Start the worker task."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name=f"notify-{self.platform}")

    async def close(self, *, grace: float = 2.0) -> None:
        """Finish queued work for up to `grace` seconds, then stop."""
        self._closing = True
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), grace)
            self._worker.cancel()
            await asyncio.gather(self._worker, *timers, return_exceptions=True)
            self._worker = None

    async def idle(self) -> None:
        """Wait until everything queued so far is done."""
        await self._queue.join()

    # --- the Notifier protocol: queue, never block the caller -------------------------------

    async def approval_requested(self, view: BroadcastView) -> None:
        """Post the approval card."""
        self._queue.put_nowait(("card", view))

    async def broadcast_updated(self, view: BroadcastView) -> None:
        """Update the card and tell the requester's thread."""
        self._queue.put_nowait(("updated", view))

    async def progress(self, view: BroadcastView) -> None:
        """Edit the progress (or summary) message, at most every few seconds."""
        self._queue.put_nowait(("progress", view))

    async def inbox(self, message: InboxView) -> None:
        """Post a recipient's message to the staff inbox."""
        self._queue.put_nowait(("inbox", message))

    async def alert(self, text: str) -> None:
        """Post an alert to the approvers."""
        self._queue.put_nowait(("alert", text))

    async def set_thread(self, broadcast_id: int, root: Ref) -> None:
        """Remember where the requester saw the preview; progress goes under it."""
        self._threads[broadcast_id] = {"root": root}
        _cap(self._threads)
        await self.broadcasts.set_chat_ref(broadcast_id, self.platform, {"root": root})

    # --- the worker ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            kind, item = await self._queue.get()
            try:
                await self._handle(kind, item)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s notifier: %s failed", self.platform, kind)
            finally:
                self._queue.task_done()

    async def _handle(self, kind: str, item: Any) -> None:
        if kind == "card":
            await self._post_card(item)
        elif kind == "updated":
            await self._updated(item)
        elif kind in ("progress", "refresh"):
            thread = self._thread(item)
            if thread is None:
                return
            wait = self._last.get(item.id, -1e9) + self.interval - self.monotonic()
            if wait <= 0:
                await self._counts(item, thread)
            if kind == "progress" or wait > 0:  # a refresh comes when the next edit is due
                self._kick(item.id, delay=wait if wait > 0 else self.interval)
        elif kind == "inbox" and self.inbox_to is not None:
            await self.surface.post(self.inbox_to, cards.inbox_message(item))
        elif kind == "alert" and self.approvals is not None:
            await self.surface.post(self.approvals, cards.alert_message(item))

    async def _post_card(self, view: BroadcastView) -> None:
        if self.approvals is None:
            return
        message = cards.approval_card(view, self.config)
        ref = await self.surface.post(self.approvals, message)
        self._cards[view.id] = ref
        _cap(self._cards)
        self._shown[f"card:{view.id}"] = message.signature()
        await self.broadcasts.set_chat_ref(view.id, f"{self.platform}_card", ref)

    async def _updated(self, event: BroadcastView) -> None:
        # Re-read: updates from different callers can arrive out of order (e.g. a first
        # approval's "waiting" after the second approval's "approved"); show what is true now.
        view = await self.broadcasts.view(event.id)
        card = self._cards.get(view.id) or view.chat_refs.get(f"{self.platform}_card")
        if card:
            await self._show(
                f"card:{view.id}", card, message=cards.approval_card(view, self.config)
            )
        thread = self._thread(view)
        if thread is None:
            return
        if view.state in (BroadcastState.APPROVED, BroadcastState.SENDING, BroadcastState.DONE):
            await self._progress(view, thread)
            if view.state == BroadcastState.DONE:
                await self._summary(view, thread)
            return
        if view.state == BroadcastState.CANCELLED and thread.get("progress"):
            await self._progress(view, thread)
        note = cards.state_note(view, self.config)
        key = f"note:{view.id}:{view.state}:{view.paused_reason}"
        if note is not None and key not in self._shown:
            self._shown[key] = note.text
            await self.surface.reply(thread["root"], note)

    def _thread(self, view: BroadcastView) -> Ref | None:
        thread = self._threads.get(view.id)
        if thread is None:
            stored = view.chat_refs.get(self.platform)
            if isinstance(stored, dict) and "root" in stored:
                thread = self._threads[view.id] = dict(stored)
        return thread

    async def _counts(self, view: BroadcastView, thread: Ref) -> None:
        if view.state == BroadcastState.DONE:
            await self._summary(view, thread)
        elif view.state in (BroadcastState.APPROVED, BroadcastState.SENDING, BroadcastState.PAUSED):
            await self._progress(view, thread)

    async def _progress(self, view: BroadcastView, thread: Ref) -> None:
        msg = cards.progress_message(view, self.config)
        await self._in_thread(view, thread, slot="progress", msg=msg)

    async def _summary(self, view: BroadcastView, thread: Ref) -> None:
        await self._in_thread(view, thread, slot="summary", msg=cards.summary_message(view))

    async def _in_thread(
        self, view: BroadcastView, thread: Ref, *, slot: str, msg: Message
    ) -> None:
        """Edit the thread's progress or summary message, posting it the first time."""
        key = f"{slot}:{view.id}"
        if thread.get(slot):
            if self._shown.get(key) != msg.signature():
                self._stamp(view.id)
                await self._show(key, thread[slot], message=msg)
            return
        self._stamp(view.id)
        thread[slot] = await self.surface.reply(thread["root"], msg)
        self._shown[key] = msg.signature()
        _cap(self._shown)
        await self.broadcasts.set_chat_ref(view.id, self.platform, thread)

    def _stamp(self, broadcast_id: int) -> None:
        """Note when this broadcast's thread was last posted to or edited."""
        self._last[broadcast_id] = self.monotonic()
        _cap(self._last)

    async def _show(self, key: str, ref: Ref, *, message: Message) -> None:
        if self._shown.get(key) == message.signature():
            return
        await self.surface.edit(ref, message)
        self._shown[key] = message.signature()

    def _kick(self, broadcast_id: int, *, delay: float) -> None:
        """Schedule one trailing refresh, so the last counts always land."""
        if broadcast_id not in self._timers and not self._closing:
            task = asyncio.create_task(self._later(broadcast_id, delay), name="notify-refresh")
            self._timers[broadcast_id] = task

    async def _later(self, broadcast_id: int, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            view = await self.broadcasts.view(broadcast_id)
            self._queue.put_nowait(("refresh", view))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.debug("refresh of broadcast %d skipped", broadcast_id, exc_info=True)
        finally:
            self._timers.pop(broadcast_id, None)
