"""Turns a parsed audience and template into contacts, a preview, and queued outbox rows."""

from __future__ import annotations

import logging
from typing import Any

from bot.audience import Audience, unknown_group_error
from bot.clock import Clock
from bot.compose import BUILTIN, CostTally, Template, contact_values, greeting, render
from bot.config_types import Config
from gateway.gsm import analyse
from storage import audience as aud
from storage import outbox
from storage.audience import AudienceQuery

logger = logging.getLogger(__name__)


class Planner:
    """Resolves audiences and renders messages, inside the caller's transaction."""

    def __init__(self, config: Config, *, clock: Clock):
        self.config = config
        self.clock = clock

    def greeting(self) -> str:
        """The greeting for now, in the organisation's time zone."""
        local = self.clock.now().astimezone(self.config.timezone)
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
    ) -> dict[str, Any]:
        """Who it reaches after opt-outs, encoding, segments, cost and a rendered sample."""
        matched, opted_out = await aud.counts(tx, query)
        recipients = matched - opted_out
        tally = CostTally(self.config.dispatch)
        fallback = self.config.dispatch.placeholder_fallback
        hello = self.greeting()
        if template.is_static:
            tally.add(render(template, {"greeting": hello}, fallback=fallback), recipients)
        else:
            async for page in aud.iter_recipients(tx, query):
                for row in page:
                    tally.add(
                        render(
                            template, contact_values(row, greeting_text=hello), fallback=fallback
                        )
                    )
        return {
            "audience": parsed.expression,
            "description": parsed.describe(),
            "groups": groups,
            "numbers": len(parsed.numbers),
            "matched": matched,
            "opted_out": opted_out,
            "recipients": recipients,
            "personalised": not template.is_static,
            "footer": template.footer,
            **tally.summary(),
        }

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
        """Insert one outbox row per opted-in recipient; return (count, shared body or None)."""
        fallback = self.config.dispatch.placeholder_fallback
        hello = self.greeting()
        if template.is_static:
            body = render(template, {"greeting": hello}, fallback=fallback)
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
                text = render(template, contact_values(row, greeting_text=hello), fallback=fallback)
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
