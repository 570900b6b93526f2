"""Turns a parsed audience and template into contacts, a preview, and queued outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.broadcasts.audience import Audience, unknown_group_error
from bot.broadcasts.compose import (
    BUILTIN,
    CostTally,
    Template,
    contact_values,
    greeting,
    parse_template,
    render_message,
)
from bot.broadcasts.rules import send_start
from bot.clock import Clock
from bot.config.types import Config
from gateway.gsm import analyse
from storage import audience as aud
from storage import broadcasts as bstore
from storage import outbox
from storage.audience import AudienceQuery
from storage.broadcasts import BroadcastRow, Preview
from storage.states import BroadcastKind


class BroadcastPlanner:
    """Resolves audiences and renders messages, inside the caller's transaction."""

    def __init__(self, config: Config, *, clock: Clock):
        self.config = config
        self.clock = clock

    def send_time(self, at: datetime | None) -> datetime:
        """When a message planned for `at` goes out: `at` if still ahead, else now."""
        now = self.clock.now()
        return at if at is not None and at > now else now

    def greeting(self, at: datetime | None = None) -> str:
        """The greeting for the send time `at` (now if None or past), in the organisation's zone."""
        local = self.send_time(at).astimezone(self.config.timezone)
        return greeting(local, self.config.dispatch.greetings)

    async def resolve(
        self, tx: Any, parsed: Audience, *, stamp: str
    ) -> tuple[AudienceQuery, list[str]]:
        """Map labels to group ids (unknown ones are errors) and numbers to contacts."""
        ids = await aud.group_ids(tx)
        for label in (*parsed.include, *parsed.exclude):
            if label not in ids:
                raise unknown_group_error(label, sorted(ids))
        contact_ids: tuple[int, ...] = ()
        if parsed.numbers:
            await aud.add_bare_contacts(tx, parsed.numbers, stamp=stamp)
            found = await aud.contact_ids_for(tx, parsed.numbers)
            contact_ids = tuple(found[p] for p in parsed.numbers)
        query = AudienceQuery(
            everyone=parsed.everyone,
            include_groups=tuple(ids[g] for g in parsed.include),
            exclude_groups=tuple(ids[g] for g in parsed.exclude),
            contact_ids=contact_ids,
        )
        return query, list(parsed.include)

    async def valid_fields(self, tx: Any) -> set[str]:
        """Placeholders a message may use: built-ins and every imported extra field."""
        return set(BUILTIN) | await aud.extra_fields(tx)

    async def preview(
        self,
        tx: Any,
        query: AudienceQuery,
        template: Template,
        parsed: Audience,
        *,
        groups: list[str],
        send_at: datetime | None = None,
    ) -> Preview:
        """Who it reaches after opt-outs, encoding, segments, cost and a rendered sample."""
        matched, opted_out = await aud.counts(tx, query)
        recipients = matched - opted_out
        tally = CostTally(self.config.dispatch)
        fallback = self.config.dispatch.placeholder_fallback
        hello = self.greeting(send_at)
        if template.is_static:
            tally.add(render_message(template, {"greeting": hello}, fallback=fallback), recipients)
        else:
            async for page in aud.iter_recipients(tx, query):
                for row in page:
                    tally.add(
                        render_message(
                            template, contact_values(row, greeting_text=hello), fallback=fallback
                        )
                    )
        info = tally.sample_info
        return Preview(
            audience=parsed.expression,
            description=parsed.describe(),
            groups=tuple(groups),
            numbers=len(parsed.numbers),
            matched=matched,
            opted_out=opted_out,
            recipients=recipients,
            personalised=not template.is_static,
            footer=template.footer,
            encoding=info.encoding if info else "GSM-7",
            segments_per_message=info.segments if info else 0,
            max_segments=tally.max_segments,
            total_segments=tally.segments,
            ucs2_chars=tally.ucs2_chars,
            ucs2_messages=tally.ucs2_messages,
            cost=tally.cost,
            currency=self.config.dispatch.currency,
            price_per_segment=self.config.dispatch.price_per_segment,
            sample=tally.sample,
            characters=len(tally.sample),
        )

    async def queue(
        self,
        tx: Any,
        query: AudienceQuery,
        template: Template,
        *,
        broadcast_id: int,
        promo: bool,
        sender_id: str | None,
        not_before: float,
        stamp: str,
    ) -> tuple[int, str | None]:
        """Insert one outbox row per opted-in recipient; return (count, shared body or None).

        `{greeting}` is rendered for the send time (`not_before` when ahead), not for now.
        """
        fallback = self.config.dispatch.placeholder_fallback
        hello = self.greeting(datetime.fromtimestamp(not_before, UTC))
        if template.is_static:
            body = render_message(template, {"greeting": hello}, fallback=fallback)
            count = await outbox.insert_static(
                tx,
                query,
                broadcast_id=broadcast_id,
                segments=analyse(body).segments,
                promo=promo,
                sender_id=sender_id,
                not_before=not_before,
                stamp=stamp,
            )
            return count, body
        count = 0
        async for page in aud.iter_recipients(tx, query):
            rows = []
            for row in page:
                text = render_message(
                    template, contact_values(row, greeting_text=hello), fallback=fallback
                )
                rows.append((row["id"], row["phone"], text, analyse(text).segments))
            await outbox.insert_rows(
                tx,
                rows,
                broadcast_id=broadcast_id,
                promo=promo,
                sender_id=sender_id,
                not_before=not_before,
                stamp=stamp,
            )
            count += len(rows)
        return count, None

    async def audience_size(self, tx: Any, parsed: Audience, *, now: datetime) -> int:
        """How many opted-in recipients the audience has now: what `freeze` would queue."""
        query, _ = await self.resolve(tx, parsed, stamp=now.isoformat())
        matched, opted_out = await aud.counts(tx, query)
        return matched - opted_out

    async def freeze(self, tx: Any, b: BroadcastRow, parsed: Audience, *, now: datetime) -> int:
        """Freeze the audience into outbox rows, once, in the approving transaction; the count."""
        query, _ = await self.resolve(tx, parsed, stamp=now.isoformat())
        footer = self.config.dispatch.footers.get(b.kind, "")
        template = parse_template(b.message, valid=await self.valid_fields(tx), footer=footer)
        send_at = datetime.fromisoformat(b.send_at) if b.send_at else None
        start = send_start(b.kind, send_at, now, self.config)
        count, body = await self.queue(
            tx,
            query,
            template,
            broadcast_id=b.id,
            promo=b.kind is BroadcastKind.PROMO,
            sender_id=b.sender_id,
            not_before=start.timestamp(),
            stamp=now.isoformat(),
        )
        await bstore.set_fields(tx, b.id, stamp=now.isoformat(), recipients=count, body=body)
        return count
