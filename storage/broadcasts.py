"""Broadcast rows and their approvals."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from storage.db import Tx
from storage.states import LIVE_STATES, OPEN_STATES, BroadcastKind, BroadcastState


@dataclass(frozen=True, slots=True)
class Preview:
    """What a broadcast reaches and costs, computed when it is composed and stored with it."""

    audience: str
    description: str
    groups: tuple[str, ...]
    numbers: int
    matched: int
    opted_out: int
    recipients: int  # matched minus opted out
    personalised: bool
    footer: str
    encoding: str  # GSM-7 | UCS-2, of the sample
    segments_per_message: int
    max_segments: int
    total_segments: int
    ucs2_chars: tuple[str, ...]  # the characters that force UCS-2
    ucs2_messages: int
    cost: float
    currency: str
    price_per_segment: float
    sample: str
    characters: int

    def as_json(self) -> dict[str, Any]:
        """The stored JSON object, with the keys in the order they have always had."""
        data = asdict(self)
        data["groups"] = list(self.groups)
        data["ucs2_chars"] = list(self.ucs2_chars)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preview:
        """Read the stored JSON object back."""
        return cls(
            **{**data, "groups": tuple(data["groups"]), "ucs2_chars": tuple(data["ucs2_chars"])}
        )


@dataclass(frozen=True, slots=True)
class BroadcastRow:
    """A stored broadcast."""

    id: int
    state: BroadcastState
    kind: BroadcastKind
    audience: str
    message: str
    body: str | None
    sender_id: str | None
    requested_by: str
    send_at: str | None
    expires_at: str | None
    approvals_needed: int
    recipients: int
    preview: Preview
    paused_reason: str | None
    chat_refs: dict[str, Any]
    created_at: str
    updated_at: str


def _row(r: Any) -> BroadcastRow:
    data = dict(r)
    data["state"] = BroadcastState(data["state"])
    data["kind"] = BroadcastKind(data["kind"])
    data["preview"] = Preview.from_json(json.loads(data["preview"]))
    data["chat_refs"] = json.loads(data["chat_refs"])
    return BroadcastRow(**data)


async def insert(
    tx: Tx,
    *,
    state: BroadcastState,
    kind: BroadcastKind,
    audience: str,
    message: str,
    sender_id: str | None,
    requested_by: str,
    send_at: str | None,
    expires_at: str | None,
    approvals_needed: int,
    preview: Preview,
    stamp: str,
) -> int:
    """Store a new broadcast and return its id."""
    return await tx.insert(
        "INSERT INTO broadcasts (state, kind, audience, message, sender_id, requested_by, send_at, "
        "expires_at, approvals_needed, preview, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (state, kind, audience, message, sender_id, requested_by, send_at, expires_at)
        + (approvals_needed, json.dumps(preview.as_json()), stamp, stamp),
    )


async def get(tx: Tx, broadcast_id: int) -> BroadcastRow | None:
    """One broadcast by id."""
    r = await tx.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
    return None if r is None else _row(r)


async def recent(
    tx: Tx, *, limit: int = 20, states: tuple[BroadcastState, ...] = ()
) -> list[BroadcastRow]:
    """The newest broadcasts, optionally in some states."""
    if states:
        marks = ",".join("?" * len(states))
        rows = await tx.fetchall(
            f"SELECT * FROM broadcasts WHERE state IN ({marks}) ORDER BY id DESC LIMIT ?",
            [*states, limit],
        )
    else:
        rows = await tx.fetchall("SELECT * FROM broadcasts ORDER BY id DESC LIMIT ?", (limit,))
    return [_row(r) for r in rows]


async def set_state(
    tx: Tx,
    broadcast_id: int,
    state: BroadcastState,
    *,
    stamp: str,
    expect: tuple[BroadcastState, ...] = (),
) -> bool:
    """Move a broadcast to `state`, only from one of `expect` when given; True if it moved."""
    if expect:
        marks = ",".join("?" * len(expect))
        changed = await tx.execute(
            f"UPDATE broadcasts SET state = ?, updated_at = ? WHERE id = ? AND state IN ({marks})",
            [state, stamp, broadcast_id, *expect],
        )
    else:
        changed = await tx.execute(
            "UPDATE broadcasts SET state = ?, updated_at = ? WHERE id = ?",
            (state, stamp, broadcast_id),
        )
    return changed > 0


async def set_fields(tx: Tx, broadcast_id: int, *, stamp: str, **fields: Any) -> None:
    """Update named columns (body, recipients, paused_reason, preview, chat_refs, ...)."""
    allowed = {"body", "recipients", "paused_reason", "preview", "chat_refs", "expires_at"}
    allowed.add("approvals_needed")
    cols = []
    params: list[Any] = []
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(f"cannot set broadcast column {key}")
        cols.append(f"{key} = ?")
        stored = value.as_json() if isinstance(value, Preview) else value
        params.append(json.dumps(stored) if key in ("preview", "chat_refs") else stored)
    await tx.execute(
        f"UPDATE broadcasts SET {', '.join(cols)}, updated_at = ? WHERE id = ?",
        [*params, stamp, broadcast_id],
    )


async def add_decision(
    tx: Tx, broadcast_id: int, person: str, decision: str, *, stamp: str
) -> bool:
    """Record one person's approve/reject; False if they had already decided."""
    changed = await tx.execute(
        "INSERT OR IGNORE INTO approvals (broadcast_id, person, decision, at) VALUES (?, ?, ?, ?)",
        (broadcast_id, person, decision, stamp),
    )
    return changed > 0


async def decisions(tx: Tx, broadcast_id: int) -> list[dict[str, str]]:
    """Who approved or rejected, in order."""
    rows = await tx.fetchall(
        "SELECT person, decision, at FROM approvals WHERE broadcast_id = ? ORDER BY at, person",
        (broadcast_id,),
    )
    return [dict(r) for r in rows]


async def expire_due(tx: Tx, *, now_iso: str) -> list[int]:
    """Expire unanswered broadcasts whose approval time ran out; return their ids."""
    rows = await tx.fetchall(
        "SELECT id FROM broadcasts WHERE state IN (?, ?) "
        "AND expires_at IS NOT NULL AND expires_at <= ?",
        (*OPEN_STATES, now_iso),
    )
    ids = [r["id"] for r in rows]
    for bid in ids:
        await set_state(tx, bid, BroadcastState.EXPIRED, stamp=now_iso)
    return ids


async def sending_ids(tx: Tx) -> list[int]:
    """Broadcasts approved or sending, whose completion the worker watches."""
    rows = await tx.fetchall(
        "SELECT id FROM broadcasts WHERE state IN (?, ?) ORDER BY id", LIVE_STATES
    )
    return [r["id"] for r in rows]
