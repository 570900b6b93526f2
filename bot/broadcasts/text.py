"""Plain-text renderings of broadcasts shared by the CLI and the chat front ends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config.types import Person
from bot.views import BroadcastView
from storage.states import BroadcastState


def local_time(iso: str | None, zone: ZoneInfo) -> str:
    """An ISO timestamp as `2026-12-01 07:00` in the organisation's zone ('' for None)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _segments(n: object) -> str:
    return f"{n} segment" if n == 1 else f"{n} segments"


def _money(amount: object) -> str:
    return f"{amount:.2f}" if isinstance(amount, (int, float)) else str(amount)


def preview_lines(view: BroadcastView) -> list[str]:
    """The preview: audience, recipients after opt-outs, encoding, cost, UCS-2 culprits, sample."""
    p = view.preview
    lines = [
        f"Broadcast {view.id} ({view.kind}) by {view.requester_name}: "
        f"{view.state.replace('_', ' ')}",
        f"To: {p.description} — {p.recipients} recipients ({p.opted_out} opted out skipped)",
        *([f"From: {view.sender_id} (sender id)"] if view.sender_id else []),
        f"Encoding: {p.encoding}, {_segments(p.segments_per_message)} each, "
        f"{p.total_segments} in all; cost ≈ {p.currency} {_money(p.cost)}",
    ]
    if p.ucs2_chars:
        chars = " ".join(repr(c) for c in p.ucs2_chars)
        lines.append(f"Unicode forced by: {chars} — replace them to cut the cost")
    lines.append(f"Sample: {p.sample}")
    if view.send_at:
        lines.append(f"Scheduled: {view.send_at}")
    return lines


def format_preview(view: BroadcastView) -> str:
    """The preview as a few readable lines, with the next step for a terminal user."""
    lines = preview_lines(view)
    if view.state is BroadcastState.AWAITING_APPROVAL:
        needed = "two approvers" if view.approvals_needed > 1 else "an approver"
        lines.append(f"Needs {needed} (not the requester): approve {view.id}")
    elif view.state is BroadcastState.DRAFT:
        lines.append(f"Below the approval threshold: confirm with approve {view.id}")
    return "\n".join(lines)


def format_status(view: BroadcastView) -> str:
    """State and counts on one line."""
    c = view.counts
    return (
        f"Broadcast {view.id}: {view.state} — {view.recipients} recipients; sent {c.sent}, "
        f"delivered {c.delivered}, failed {c.failed}, queued {c.queued + c.sending}, "
        f"unknown {c.unknown}, skipped {c.skipped}; cost {c.cost}"
    )


def decision_lines(
    view: BroadcastView, *, people: Mapping[str, Person], zone: ZoneInfo
) -> list[str]:
    """Who approved or rejected, and when, one line each."""
    lines = []
    for d in view.decisions:
        person = people.get(d["person"])
        name = person.name if person else d["person"]
        verb = "Rejected" if d["decision"] != "approve" else "Approved"
        if view.approvals_needed == 0 and d["decision"] == "approve":
            verb = "Confirmed"  # below the threshold the requester only confirms
        lines.append(f"{verb} by {name} at {local_time(d['at'], zone)}")
    return lines
