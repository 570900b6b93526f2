"""What chat shows: previews, approval cards, progress, summaries and inbox posts, as Messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.broadcasts.text import decision_lines, local_time, preview_lines
from bot.config.types import Config
from bot.views import OPEN_STATES, BroadcastState, BroadcastView, InboxView

_PROMPT = re.compile(r"\((\+\d{7,15})\)")


@dataclass(frozen=True, slots=True)
class Button:
    """A button: what it says, the action it asks for, and the value it carries."""

    label: str
    action: str  # approve | reject | cancel | reply
    value: str
    style: str | None = None  # primary | danger


@dataclass(frozen=True, slots=True)
class Message:
    """A platform-independent chat message: lines of text (the first is the title) and buttons."""

    lines: tuple[str, ...]
    buttons: tuple[Button, ...] = ()

    @property
    def text(self) -> str:
        """The whole text, one line per line."""
        return "\n".join(self.lines)

    def signature(self) -> str:
        """What a viewer sees, to skip edits that would change nothing."""
        return self.text + "|" + ",".join(f"{b.action}:{b.value}" for b in self.buttons)


def text_message(text: str) -> Message:
    """A plain message without buttons."""
    return Message(tuple(text.splitlines()) or ("",))


def _needed(view: BroadcastView) -> str:
    return "two approvers" if view.approvals_needed > 1 else "an approver"


def preview_message(view: BroadcastView, config: Config) -> Message:
    """The requester's preview, with Send/Cancel buttons while it can still be stopped."""
    lines = preview_lines(view)
    buttons: tuple[Button, ...] = ()
    cancel = Button("Cancel", "cancel", str(view.id), "danger")
    expires = local_time(view.expires_at, config.timezone)
    if view.state is BroadcastState.AWAITING_APPROVAL:
        lines.append(
            f"Sent to the approvers: needs {_needed(view)} other than you, by {expires}. "
            f"Progress follows here; or ask: /sms status {view.id}"
        )
        buttons = (cancel,)
    elif view.state is BroadcastState.DRAFT:
        lines.append(
            f"Under {config.dispatch.approval_threshold} recipients, so no approval is needed: "
            f"press Send (or /sms approve {view.id}) by {expires}."
        )
        buttons = (Button("Send", "approve", str(view.id), "primary"), cancel)
    return Message(tuple(lines), buttons)


def _state_line(view: BroadcastView, config: Config) -> str:
    approvals = sum(1 for d in view.decisions if d["decision"] == "approve")
    if view.state is BroadcastState.AWAITING_APPROVAL:
        left = max(view.approvals_needed - approvals, 1)
        more = f"{left} more approver" if approvals else _needed(view)
        return f"Waiting for {more}; expires {local_time(view.expires_at, config.timezone)}"
    words = {
        BroadcastState.APPROVED: f"Approved: {view.recipients} recipients queued",
        BroadcastState.SENDING: f"Sending to {view.recipients} recipients",
        BroadcastState.PAUSED: f"Paused: {view.paused_reason or 'by staff'}",
        BroadcastState.DONE: f"Sent: {view.counts.sent} of {view.recipients}",
        BroadcastState.REJECTED: "Rejected: nothing was sent",
        BroadcastState.CANCELLED: "Cancelled",
        BroadcastState.EXPIRED: "Expired: nobody approved it in time; nothing was sent",
        BroadcastState.DRAFT: "Waiting for the requester to press Send",
    }
    return words.get(view.state, view.state.replace("_", " "))


def approval_card(view: BroadcastView, config: Config) -> Message:
    """The approvers' card: the whole preview, the requester, decisions, and the buttons."""
    lines = [
        f"Broadcast {view.id} — approval {'needed' if view.state in OPEN_STATES else 'closed'}",
        f"Requested by {view.requester_name} at {local_time(view.created_at, config.timezone)}",
        *preview_lines(view)[1:],
        *decision_lines(view, people=config.people, zone=config.timezone),
        _state_line(view, config),
    ]
    buttons: tuple[Button, ...] = ()
    if view.state is BroadcastState.AWAITING_APPROVAL:
        buttons = (
            Button("Approve", "approve", str(view.id), "primary"),
            Button("Reject", "reject", str(view.id), "danger"),
        )
    return Message(tuple(lines), buttons)


def counts_line(view: BroadcastView) -> str:
    """Sent, failed and queued (and unknown when there are any)."""
    c = view.counts
    line = f"Sent {c.sent} · failed {c.failed} · queued {c.queued + c.sending}"
    if c.unknown:
        line += f" · unknown {c.unknown} (resend on purpose: /sms resend {view.id})"
    return line


def progress_message(view: BroadcastView, config: Config) -> Message:
    """The requester's progress line, edited in place while the broadcast sends."""
    lines = [f"Broadcast {view.id}: {_state_line(view, config)}"]
    lines += decision_lines(view, people=config.people, zone=config.timezone)
    if view.send_at and view.state is BroadcastState.APPROVED:
        lines.append(f"Scheduled for {local_time(view.send_at, config.timezone)}")
    lines.append(counts_line(view))
    return Message(tuple(lines))


def summary_message(view: BroadcastView) -> Message:
    """The final summary; delivery counts are edited in as reports arrive."""
    c = view.counts
    lines = [
        f"Broadcast {view.id} finished: {c.sent} of {view.recipients} sent, "
        f"{c.failed} failed, {c.skipped} skipped",
        f"Delivered {c.delivered} so far (updated as reports arrive) · "
        f"cost {view.preview.currency} {c.cost:.2f}",
    ]
    if c.unknown:
        lines.append(f"{c.unknown} unknown — resend them on purpose: /sms resend {view.id}")
    return Message(tuple(lines))


def state_note(view: BroadcastView, config: Config) -> Message | None:
    """A line for the requester's thread when a broadcast stops short of sending."""
    decided = decision_lines(view, people=config.people, zone=config.timezone)
    if view.state is BroadcastState.REJECTED:
        who = next((d for d in reversed(decided) if d.startswith("Rejected")), "Rejected")
        return Message((f"Broadcast {view.id}: {who[0].lower()}{who[1:]}. Nothing was sent.",))
    if view.state is BroadcastState.CANCELLED:
        dropped = view.counts.cancelled
        return Message((f"Broadcast {view.id} cancelled; {dropped} message(s) not sent.",))
    if view.state is BroadcastState.EXPIRED:
        return Message(
            (f"Broadcast {view.id} expired before it was approved; compose it again to send.",)
        )
    if view.state is BroadcastState.PAUSED:
        return Message((f"Broadcast {view.id} paused: {view.paused_reason or 'by staff'}",))
    return None


def status_text(view: BroadcastView, config: Config) -> str:
    """`/sms status 12`: state, counts, who decided, and what happens next."""
    c = view.counts
    lines = [
        f"Broadcast {view.id} ({view.kind}) to {view.audience} by {view.requester_name}: "
        f"{_state_line(view, config)}",
        counts_line(view) + f" · delivered {c.delivered} · cost {c.cost:.2f}",
        *decision_lines(view, people=config.people, zone=config.timezone),
    ]
    if view.send_at:
        lines.append(f"Scheduled for {local_time(view.send_at, config.timezone)}")
    return "\n".join(lines)


def list_line(view: BroadcastView, config: Config) -> str:
    """One broadcast in `/sms list`."""
    recipients = view.recipients or view.preview.recipients
    return (
        f"#{view.id} {view.state.replace('_', ' ')} — {view.audience} — {recipients} "
        f"recipients — {view.requester_name}, {local_time(view.created_at, config.timezone)}"
    )


def inbox_message(message: InboxView) -> Message:
    """A reply from a recipient, for the staff inbox, with a Reply button."""
    who = message.name or "Unknown sender"
    lines = [f"SMS from {who} ({message.phone})"]
    lines.append("Groups: " + (", ".join(message.groups) if message.groups else "none"))
    if message.broadcast_id is not None:
        lines.append(f"Answers broadcast {message.broadcast_id}")
    else:
        lines.append("Not an answer to a broadcast")
    if message.opted_out:
        lines.append("This number has opted out (STOP)")
    lines.append(f"“{message.text}”")
    if message.incomplete:
        lines.append("(incomplete: some parts never arrived)")
    return Message(tuple(lines), (Button("Reply", "reply", message.phone, "primary"),))


def reply_hint(number: str) -> str:
    """What to type to answer an inbox message."""
    return f'To answer, send: /sms reply {number} "your message"'


def reply_prompt(number: str) -> str:
    """The Telegram ForceReply prompt; the number in brackets is read back from the reply."""
    return f"Reply to ({number}): write your answer as a reply to this message."


def prompt_number(text: str | None) -> str | None:
    """The number in a reply prompt, if the text is one."""
    if not text or not text.startswith("Reply to ("):
        return None
    match = _PROMPT.search(text)
    return match.group(1) if match else None


def alert_message(text: str) -> Message:
    """Something staff must know."""
    return Message((f"⚠️ {text}",))
