"""Audit entries for actions that happen outside the core's services, e.g. chat commands."""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from storage import audit
from storage.db import Database


class Auditor:
    """Appends audit entries, each in its own short transaction."""

    def __init__(self, db: Database, *, clock: Clock):
        self.db = db
        self.clock = clock

    async def record(self, *, actor: str, action: str, subject: str = "", **details: Any) -> None:
        """Append one entry stamped with the current time."""
        async with self.db.transaction() as tx:
            await audit.record(
                tx, at=self.clock.now(), actor=actor, action=action, subject=subject, **details
            )

    async def entries(
        self, *, subject: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Recent entries, newest first, optionally for one subject."""
        async with self.db.read() as tx:
            return await audit.entries(tx, subject=subject, limit=limit)
