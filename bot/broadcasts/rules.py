"""The rules of the broadcast lifecycle, without I/O: approvals needed, who may decide, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.broadcasts.schedule import next_allowed
from bot.config.types import Config, DispatchConfig, Person
from bot.views import BroadcastView
from storage.broadcasts import BroadcastRow, Preview
from storage.states import OPEN_STATES, BroadcastKind, BroadcastState

#: The states in which a broadcast's `unknown` rows may be queued again, on purpose.
RESENDABLE = (BroadcastState.SENDING, BroadcastState.PAUSED, BroadcastState.DONE)


class Outcome(StrEnum):
    """What an approve/reject/cancel click did."""

    APPROVED = "approved"
    WAITING = "waiting"  # approved, and another approver is needed
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Decision:
    """The one outcome of an approve/reject/cancel click, and a line to show the person."""

    outcome: Outcome
    message: str
    view: BroadcastView
    forbidden: bool = False  # refused because of who clicked, not because of the state


def approvals_needed(recipients: int, dispatch: DispatchConfig) -> int:
    """0 below the approval threshold, 2 above the second-approver threshold, else 1."""
    if recipients < dispatch.approval_threshold:
        return 0
    if dispatch.second_approver_threshold and recipients > dispatch.second_approver_threshold:
        return 2
    return 1


def refusal(
    b: BroadcastRow, person: Person, *, now: datetime, needed: int | None = None
) -> tuple[str, bool] | None:
    """Why this person may not decide now, and whether it is about the person; None if they may.

    `needed` is the approvals the audience needs now (at approval); the stored count if None.
    """
    if b.state is BroadcastState.EXPIRED or (
        b.state in OPEN_STATES and b.expires_at and datetime.fromisoformat(b.expires_at) <= now
    ):
        return f"broadcast {b.id} has expired; compose it again", False
    if b.state not in OPEN_STATES:
        return f"broadcast {b.id} is already {b.state.replace('_', ' ')}", False
    needed = b.approvals_needed if needed is None else needed
    if needed == 0:
        return None
    if person.id == b.requested_by:
        return "you cannot approve your own broadcast; another approver must", True
    if not person.can_approve:
        return "only approvers can approve broadcasts", True
    return None


def growth_note(preview: Preview, now: int) -> str:
    """How the audience changed since the preview, e.g. "preview showed 5, now 3,000"."""
    return f"preview showed {preview.recipients:,}, now {now:,}"


def steer_refusal(b: BroadcastRow, person: Person, *, verb: str) -> str | None:
    """Why this person may not pause, resume or resend this broadcast; None if they may."""
    if person.id != b.requested_by and not person.can_approve:
        return f"only the requester or an approver can {verb} broadcast {b.id}"
    return None


def resend_refusal(b: BroadcastRow, person: Person) -> tuple[str, bool] | None:
    """Why this person may not send this broadcast's unknown rows again (and whether it is
    about the person); None if they may."""
    who = steer_refusal(b, person, verb="resend")
    if who:
        return who, True
    if b.state not in RESENDABLE:
        return f"broadcast {b.id} is {b.state.replace('_', ' ')}; nothing can be resent", False
    return None


def send_start(
    kind: BroadcastKind, send_at: datetime | None, now: datetime, config: Config
) -> datetime:
    """When a broadcast's rows may first go: its send time or now, past quiet hours for promos."""
    start = send_at if send_at is not None and send_at > now else now
    if kind is BroadcastKind.PROMO:
        d = config.dispatch
        start = next_allowed(start, start=d.quiet_start, end=d.quiet_end, zone=config.timezone)
    return start
