"""A dispatch lane's transactions on its hot path, each one function in the database thread.

Claiming the next batch, promoting the reserved batch while journaling the answer of the one
before, and writing journaled outcomes to their rows: each is one transaction and one round
trip through the event loop (one hop), however many statements it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Database
from storage.outbox import journal
from storage.outbox.claim import (
    Claimed,
    ClaimRequest,
    claim_rows,
    release_in,
    sendable_in,
    urgent_ready_in,
)
from storage.outbox.settle import SettlePlan, settle_in


@dataclass(frozen=True, slots=True)
class Answer:
    """A batch's answer as the send journal records it."""

    batch_id: str
    gateway: str
    broadcast_id: int | None
    outcome: SettlePlan


@dataclass(frozen=True, slots=True)
class Outcome:
    """A journaled batch's outcome, to be written to its outbox rows."""

    gateway: str
    batch_id: str
    sent: Sequence[Sequence[Any]]  # (id, provider_id, provider_status, cost)
    failed: Sequence[tuple[int, str]]  # (id, reason)
    retry: Sequence[tuple[int, float, str]]  # (id, next_attempt_at, reason)


async def claim(db: Database, request: ClaimRequest) -> Claimed | None:
    """Take the next ready batch in a transaction of its own (see outbox.claim_rows)."""
    return await db.run(claim_rows, request)


async def promote(
    db: Database,
    ahead: Claimed,
    answer: Answer,
    *,
    stamp: str,
    urgent: ClaimRequest | None = None,
) -> Claimed | None:
    """Journal `answer` and name the batch leaving next, in one transaction and one hop.

    That is `ahead` re-checked for opt-outs and pauses (outbox.sendable_in), or, with
    `urgent`, a waiting reply or one-to-one message claimed instead if one is ready (then
    `ahead` goes back to the queue). One journal row both settles the answered batch and
    names the one about to leave: after a crash that one is `unknown`, never resent.
    """
    return await db.run(_promote, ahead, answer, stamp=stamp, urgent=urgent)


def _promote(
    conn: Conn, ahead: Claimed, answer: Answer, *, stamp: str, urgent: ClaimRequest | None
) -> Claimed | None:
    following: Claimed | None
    if urgent is not None and urgent_ready_in(conn, now=urgent.now):
        release_in(conn, batch_id=ahead.batch_id, stamp=stamp)
        following = claim_rows(conn, urgent)
    else:
        following = sendable_in(conn, batch=ahead, stamp=stamp)
    journal.add_in(
        conn,
        batch_id=answer.batch_id,
        gateway=answer.gateway,
        broadcast_id=answer.broadcast_id,
        outcome=answer.outcome,
        next_batch_id=following.batch_id if following else None,
        stamp=stamp,
    )
    return following


async def write_outcomes(
    db: Database, outcomes: Sequence[Outcome], *, stamp: str, claim: ClaimRequest | None = None
) -> tuple[list[tuple[str, int, str]], Claimed | None]:
    """Write journaled outcomes to their rows and mark their entries written, in one hop;
    with `claim`, take the lane's next batch in the same transaction.

    Returns the provider ids refused as already linked, as (gateway, row id, provider id),
    and the batch claimed (None if none or not asked).
    """
    return await db.run(_write_outcomes, outcomes, stamp=stamp, claim=claim)


def _write_outcomes(
    conn: Conn, outcomes: Sequence[Outcome], *, stamp: str, claim: ClaimRequest | None
) -> tuple[list[tuple[str, int, str]], Claimed | None]:
    clashes = []
    for o in outcomes:
        for rid, pid in settle_in(conn, sent=o.sent, failed=o.failed, retry=o.retry, stamp=stamp):
            clashes.append((o.gateway, rid, pid))
    # The batches named as leaving next stay `claimed`, not rewritten as `sending`: their
    # entries name them until their own outcome is written (recovery reads them there).
    journal.written_in(conn, [o.batch_id for o in outcomes])
    return clashes, (None if claim is None else claim_rows(conn, claim))
