"""The append-only audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Tx


async def record(
    tx: Tx, *, at: datetime, actor: str, action: str, subject: str = "", **details: Any
) -> None:
    """Append one audit entry inside the caller's transaction."""
    await tx.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
        (at.isoformat(), actor, action, subject, json.dumps(details, default=str, sort_keys=True)),
    )


async def entries(tx: Tx, *, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent audit entries, newest first, optionally for one subject."""
    if subject is None:
        rows = await tx.fetchall("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = await tx.fetchall(
            "SELECT * FROM audit_log WHERE subject = ? ORDER BY id DESC LIMIT ?", (subject, limit)
        )
    return [
        {
            "id": r["id"],
            "at": r["at"],
            "actor": r["actor"],
            "action": r["action"],
            "subject": r["subject"],
            "details": json.loads(r["details"]),
        }
        for r in rows
    ]


async def count_since(tx: Tx, actor: str, *, since: datetime, actions: tuple[str, ...]) -> int:
    """How many entries `actor` has of `actions` at or after `since`."""
    marks = ",".join("?" * len(actions))
    row = await tx.fetchone(
        f"SELECT COUNT(*) AS n FROM audit_log WHERE actor = ? AND at >= ? AND action IN ({marks})",
        (actor, since.isoformat(), *actions),
    )
    return int(row["n"]) if row else 0
