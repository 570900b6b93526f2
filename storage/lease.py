"""The instance lease: one row naming the server that may recover and dispatch on this database."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.db import Database, Tx

logger = logging.getLogger(__name__)


class Renewal(StrEnum):
    """What a renewal found: still ours, lost to another instance, or not written this time."""

    RENEWED = "renewed"
    LOST = "lost"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the lease: host, process id, a random instance id, since when, last renewal."""

    host: str
    pid: int
    instance: str
    since: datetime
    renewed_at: datetime


class LeaseHeld(Exception):
    """Another live instance holds the lease; the message names it in one line."""

    def __init__(self, holder: Holder):
        self.holder = holder
        super().__init__(
            f"another smsops serve holds this database: host {holder.host}, pid {holder.pid}, "
            f"since {holder.since.isoformat(timespec='seconds')}"
        )


async def take(
    db: Database,
    me: Holder,
    *,
    expiry: timedelta,
    gone: Callable[[Holder], bool],
) -> Holder | None:
    """Take the lease for `me` in one transaction; the holder it replaced (None if free).

    Raises LeaseHeld when another instance holds it, renewed within `expiry` and not `gone`.
    """
    async with db.transaction() as tx:
        current = await _current(tx)
        if current is not None and current.instance != me.instance:
            fresh = me.renewed_at - current.renewed_at < expiry
            if fresh and not gone(current):
                raise LeaseHeld(current)
        await tx.execute(
            "INSERT OR REPLACE INTO instance_lease "
            "(id, host, pid, instance, since, renewed_at) VALUES (1, ?, ?, ?, ?, ?)",
            (me.host, me.pid, me.instance, me.since.isoformat(), me.renewed_at.isoformat()),
        )
        return current


async def renew(db: Database, instance: str, *, now: datetime) -> Renewal:
    """Record that `instance` still runs (FAILED, logged, when the database refused the write)."""
    try:
        async with db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE instance_lease SET renewed_at = ? WHERE id = 1 AND instance = ?",
                (now.isoformat(), instance),
            )
    except sqlite3.Error as exc:  # e.g. locked for a while: the next renewal may succeed
        logger.warning("instance lease not renewed: %s", exc)
        return Renewal.FAILED
    return Renewal.RENEWED if changed == 1 else Renewal.LOST


async def release(db: Database, instance: str) -> None:
    """Give the lease up, if `instance` still holds it."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM instance_lease WHERE id = 1 AND instance = ?", (instance,))


async def holder(db: Database) -> Holder | None:
    """The lease's holder now, if any."""
    async with db.read() as tx:
        return await _current(tx)


async def _current(tx: Tx) -> Holder | None:
    row = await tx.fetchone(
        "SELECT host, pid, instance, since, renewed_at FROM instance_lease WHERE id = 1"
    )
    if row is None:
        return None
    return Holder(
        host=str(row["host"]),
        pid=int(row["pid"]),
        instance=str(row["instance"]),
        since=datetime.fromisoformat(row["since"]),
        renewed_at=datetime.fromisoformat(row["renewed_at"]),
    )
