"""What crosses the inbound package: a message ready to decide, its result, a batch's plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.inbound.keywords import KeywordMatch
from gateway.base import InboundSms
from storage.inbound import Writes
from storage.states import InboundOutcome, KeywordAction


@dataclass(frozen=True, slots=True)
class Prepared:
    """An inbound SMS with its sender in E.164 and its keyword, ready to be decided."""

    sms: InboundSms
    phone: str
    match: KeywordMatch | None
    received_at: str


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What became of one inbound message."""

    id: int
    duplicate: bool
    phone: str
    action: KeywordAction | None
    language: str | None
    outcome: InboundOutcome
    reply: str | None = None  # the text queued, if any
    reply_suppressed: bool = False  # the loop guard held a reply back
    contact_id: int | None = None
    broadcast_id: int | None = None

    @property
    def inbox(self) -> bool:
        """Whether the message went to staff as an ordinary message."""
        return self.outcome == InboundOutcome.INBOX


@dataclass(slots=True)
class Plan:
    """The writes a batch makes and each message's result, in arrival order."""

    writes: Writes = field(default_factory=Writes)
    results: list[InboundResult] = field(default_factory=list)
