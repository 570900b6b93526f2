"""One-to-one messages: staff replies, REST sends, test messages, retries and status look-ups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import Any

from bot.broadcasts.compose import MAX_MESSAGE_CHARS
from bot.broadcasts.service import BroadcastService
from bot.config.types import Person
from bot.deps import Deps, Service
from bot.errors import NotFound, UserError
from bot.validate import check_text
from gateway.gsm import analyse
from storage import audit, outbox
from storage import contacts as cstore
from storage.audience import add_bare_contacts, contact_ids_for
from storage.states import OutboxState

#: The audit actions of one-to-one sends, which count towards a person's daily cap.
SENDS = ("sms.direct", "sms.reply", "sms.test")


class Messaging(Service):
    """Queues single messages in the urgent lane."""

    def __init__(self, deps: Deps, *, wake: Callable[[], None], broadcasts: BroadcastService):
        super().__init__(deps)
        self.wake = wake
        self.broadcasts = broadcasts  # a broadcast's rows are resent by its rules only

    async def send_one(self, to: str, text: str, *, person: Person, purpose: str = "direct") -> int:
        """Queue one message to one number; opted-out contacts are refused."""
        check_text(text)
        phone = self.phones.normalise(to)
        if not text.strip():
            raise UserError("the message is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise UserError(f"the message is {len(text)} characters; the limit is 1600")
        now = self.clock.now()
        async with self.db.transaction() as tx:
            contact = await cstore.get_contact(tx, phone)
            if contact is not None and contact.opted_out_at and purpose != "test":
                raise UserError(f"{phone} has opted out (STOP); they must text START first")
            if contact is None:
                await add_bare_contacts(tx, [phone], stamp=now.isoformat())
            await self._check_cap(tx, person, now=now)
            cid = (await contact_ids_for(tx, [phone]))[phone]
            row_id = await outbox.insert_single(
                tx,
                contact_id=cid,
                phone=phone,
                text=text,
                segments=analyse(text).segments,
                stamp=now.isoformat(),
                ignore_optout=purpose == "test",
                sender_id=self.config.dispatch.default_sender_id,
            )
            assert row_id is not None
            await audit.record(
                tx,
                at=now,
                actor=person.id,
                action=f"sms.{purpose}",
                subject=phone,
                outbox_id=row_id,
                chars=len(text),
            )
        self.wake()
        return row_id

    async def _check_cap(self, tx: Any, person: Person, *, now: datetime) -> None:
        """Refuse a one-to-one send past the person's daily cap ([dispatch] direct_daily_limit)."""
        limit = self.config.dispatch.direct_daily_limit
        zone = self.config.timezone
        midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
        sent = await audit.count_since(tx, person.id, since=midnight.astimezone(UTC), actions=SENDS)
        if sent >= limit:
            raise UserError(
                f"{person.id} has sent {sent} one-to-one messages today; the limit is {limit} "
                "a day ([dispatch] direct_daily_limit)"
            )

    async def retry(self, row_id: int, *, person: Person) -> OutboxState:
        """Queue a failed or unknown single message again, on purpose; return its new state.
        A broadcast's row goes through the broadcast's resend rules (only `unknown` rows, by
        its requester or an approver)."""
        async with self.db.read() as tx:
            broadcast_id = await outbox.row_broadcast(tx, row_id)
        if broadcast_id is not None:
            if not await self.broadcasts.resend_unknown(broadcast_id, person=person, row_id=row_id):
                raise NotFound(
                    f"message {row_id} of broadcast {broadcast_id} is not unknown; only unknown "
                    "messages are sent again"
                )
            return OutboxState.QUEUED
        now = self.clock.now()
        async with self.db.transaction() as tx:
            if not await outbox.requeue_row(tx, row_id, stamp=now.isoformat()):
                raise NotFound(f"no failed or unknown message {row_id}")
            await audit.record(
                tx, at=now, actor=person.id, action="sms.retry", subject=f"m{row_id}"
            )
        self.wake()
        return OutboxState.QUEUED

    async def statuses(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Current state of messages by id."""
        async with self.db.read() as tx:
            return await outbox.statuses(tx, ids)
