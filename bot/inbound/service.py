"""The one handler every inbound SMS goes through: store once, act on keywords, reply, inbox.

Callers (the Africa's Talking callback, the simulator CLI, a modem reader) await `handle`,
which returns only after the message and everything it caused are committed. Messages that
arrive while a transaction is running are decided together in the next one (group commit):
the rules are applied in arrival order, so the outcome is the same as one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.contacts.phones import PhoneError
from bot.deps import Deps, Service
from bot.errors import NotFound, UserError
from bot.inbound.keywords import KeywordMatcher
from bot.inbound.model import InboundResult, Plan, Prepared
from bot.inbound.rules import KeywordRules
from bot.views import InboxView
from gateway.base import InboundSms
from storage import inbound as store
from storage import inbox as inbox_store
from storage.states import InboundOutcome, KeywordAction

logger = logging.getLogger(__name__)

_GROUP_ACTIONS = (KeywordAction.JOIN, KeywordAction.LEAVE)  # a batch with these reads groups

__all__ = ["MAX_TEXT_CHARS", "InboundResult", "InboundService", "scrub", "scrub_id"]

MAX_TEXT_CHARS = 5000
MAX_BATCH = 256
PIPELINE = 2  # commits holding or waiting for the database at once
_LETTERS = re.compile(r"[^\W\d_]")


def scrub(text: str) -> str:
    """The text with unpaired surrogates (left by a bad decoder) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # UTF-16 round trip: split pairs heal, lone halves become U+FFFD
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def scrub_id(text: str) -> str:
    """An id with unpaired surrogates written as escapes, so two such ids stay distinct."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _scrubbed(sms: InboundSms) -> InboundSms:
    """The SMS with every text field storable: a bad byte must not lose the message."""
    texts = (sms.provider_id, sms.sender, sms.recipient, sms.text, sms.link_id, sms.network_code)
    try:
        for value in texts:
            if value is not None and not value.isascii():
                value.encode("utf-8")
    except UnicodeEncodeError:
        logger.warning(
            "inbound %s: text that is not valid Unicode; replaced", scrub_id(sms.provider_id)
        )
        return replace(
            sms,
            provider_id=scrub_id(sms.provider_id),
            sender=scrub(sms.sender),
            recipient=scrub(sms.recipient),
            text=scrub(sms.text),
            link_id=None if sms.link_id is None else scrub(sms.link_id),
            network_code=None if sms.network_code is None else scrub(sms.network_code),
        )
    return sms


@dataclass(slots=True)
class _Job:
    prepared: Prepared
    future: asyncio.Future[InboundResult]


class InboundService(Service):
    """Stores inbound messages idempotently and answers keywords, in few transactions."""

    def __init__(self, deps: Deps, *, wake: Callable[[], None]):
        super().__init__(deps)
        self.wake = wake
        self.matcher = KeywordMatcher(self.config.keywords)
        self.rules = KeywordRules(self.config)
        self._queue: deque[_Job] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._notifying: set[asyncio.Task[None]] = set()

    def prepare(self, sms: InboundSms) -> Prepared:
        """Check an SMS and normalise its sender; PhoneError or UserError when it is unusable."""
        sms = _scrubbed(sms)
        if not sms.provider_id:
            raise UserError("the message has no id")
        if len(sms.text) > MAX_TEXT_CHARS:
            raise UserError(f"the text is {len(sms.text)} characters; at most {MAX_TEXT_CHARS}")
        try:
            if _LETTERS.search(sms.sender):  # phonenumbers would read them as vanity digits
                raise PhoneError("not a phone number")
            phone = self.phones.normalise(sms.sender)
        except PhoneError as exc:
            raise PhoneError(f"sender {sms.sender[:40]!r}: {exc}") from None
        received = sms.received_at or self.clock.now()
        return Prepared(sms, phone, self.matcher.match(sms.text), received.isoformat())

    async def handle(self, sms: InboundSms) -> InboundResult:
        """Store one SMS once, act on its keyword, queue its reply; return once committed."""
        job = _Job(self.prepare(sms), asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if len(self._workers) < PIPELINE:
            task = asyncio.create_task(self._work(), name="inbound-commit")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)
        return await job.future  # a cancelled caller leaves the batch to finish without it

    async def handle_received(self, sms: InboundSms) -> None:
        """An SMS a gateway received by itself (the modem): handled; one that cannot be used
        (e.g. an operator's alphanumeric promo) is logged and dropped, so the SIM can free it."""
        try:
            await self.handle(sms)
        except (PhoneError, UserError) as exc:
            logger.warning(
                "%s SMS %s from %r not usable (%s); removed from the SIM: %r",
                sms.gateway,
                sms.provider_id,
                sms.sender,
                exc,
                sms.text,
            )

    async def _work(self) -> None:
        """Commit batches while messages wait; with PIPELINE workers, the next batch already
        waits for the database while this one is written, and is taken from the queue only
        when its turn comes (in the database thread), so it holds all that arrived meanwhile."""
        taken: list[_Job] = []
        try:
            while self._queue:
                taken = []
                await self._commit_next(taken)
        finally:
            # Leave the set now, not in a done callback: a message queued after this point
            # must find room to start a worker.
            self._workers.discard(asyncio.current_task())
            stranded = list(taken)
            if not self._workers:  # the queue is empty unless this was cancelled
                stranded += self._queue
                self._queue.clear()
            for job in stranded:
                if not job.future.done():
                    job.future.set_exception(RuntimeError("inbound processing stopped"))

    async def _commit_next(self, taken: list[_Job]) -> None:
        def take() -> store.Batch[Plan] | None:  # runs in the database thread
            while self._queue and len(taken) < MAX_BATCH:  # deque: safe across threads
                taken.append(self._queue.popleft())
            if not taken:
                return None
            return self._batch([job.prepared for job in taken])

        try:
            written = await store.commit_batch(self.db, take)
        except Exception:
            if len(taken) > 1:  # one bad message must not fail the others: go one by one
                logger.exception("inbound batch of %d failed; retrying one by one", len(taken))
            for job in taken:
                await self._process([job])
            return
        if written is not None:
            self._finish(taken, *written)

    async def _process(self, batch: Sequence[_Job]) -> None:
        prepared = [job.prepared for job in batch]
        try:
            written = await store.commit_batch(self.db, lambda: self._batch(prepared))
        except Exception as exc:
            logger.exception("inbound %s failed", batch[0].prepared.sms.provider_id)
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        if written is not None:
            self._finish(batch, *written)

    def _batch(self, batch: Sequence[Prepared]) -> store.Batch[Plan]:
        """The batch's transaction, asked for in the database thread: its reads and rules."""
        now = self.clock.now()
        stamp = now.isoformat()

        def decide(snap: store.BatchState) -> tuple[Plan, store.Writes]:
            plan = self.rules.plan(batch, snap, stamp=stamp)
            return plan, plan.writes

        return store.Batch(
            ids=[(p.sms.gateway, p.sms.provider_id) for p in batch],
            phones=list(dict.fromkeys(p.phone for p in batch)),
            since=(now - timedelta(hours=1)).isoformat(),
            with_groups=any(
                p.match and p.match.action in (KeywordAction.JOIN, KeywordAction.LEAVE)
                for p in batch
            ),
            stamp=stamp,
            decide=decide,
        )

    def _finish(
        self,
        batch: Sequence[_Job],
        plan: Plan,
        snap: store.BatchState,
        labels: dict[int, tuple[str, ...]],
    ) -> None:
        """Answer each caller (after the commit), wake the dispatcher, tell staff of the inbox."""
        inbox = [r for r in plan.writes.inbound if r.outcome == InboundOutcome.INBOX]
        linked = {r.id: r.broadcast_id for r in inbox if r.broadcast_id is not None}
        if linked:
            plan.results = [
                replace(r, broadcast_id=linked[r.id]) if r.id in linked and not r.duplicate else r
                for r in plan.results
            ]
        for job, result in zip(batch, plan.results, strict=True):
            if not job.future.done():
                job.future.set_result(result)
            logger.info("inbound %d from %s: %s", result.id, result.phone, result.outcome)
        if plan.writes.replies:
            self.wake()
        for row in inbox:
            contact = snap.contacts.get(row.sender)
            view = InboxView(
                id=row.id,
                phone=row.sender,
                name=contact.name if contact else "",
                groups=labels.get(row.contact_id, ()) if row.contact_id else (),
                text=row.text,
                received_at=row.received_at,
                broadcast_id=row.broadcast_id,
                opted_out=bool(contact and contact.opted_out),
                incomplete=row.incomplete,
            )
            task = asyncio.create_task(self.notifier.inbox(view))
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)

    async def settled(self) -> None:
        """Wait for queued messages and inbox notifications in flight (tests, shutdown)."""
        while self._workers or self._notifying:
            await asyncio.gather(*self._workers, *self._notifying, return_exceptions=True)

    async def inbox(
        self, *, unread_only: bool = False, limit: int = 50
    ) -> list[inbox_store.InboxRow]:
        """The newest messages that were not keywords."""
        async with self.db.read() as tx:
            return await inbox_store.inbox(tx, unread_only=unread_only, limit=limit)

    async def mark_read(self, inbound_id: int) -> bool:
        """Mark an inbox message read; False if it was read already."""
        async with self.db.transaction() as tx:
            changed = await inbox_store.mark_read(
                tx, inbound_id, stamp=self.clock.now().isoformat()
            )
        if changed is None:
            raise NotFound(f"no inbox message {inbound_id}")
        return changed
