"""Multipart inbound SMS: parts held (still on the SIM) until complete, or until a timeout."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.gsm import decode_gsm7
from gateway.modem.pdu import DeliverPdu

logger = logging.getLogger(__name__)

GroupKey = tuple[str, int, int, int]  # sender, reference, reference bits, total


@dataclass(frozen=True, slots=True)
class StoredPart:
    """One SMS-DELIVER read from the modem's storage, with where it lives."""

    storage: str
    index: int
    pdu: str
    deliver: DeliverPdu


@dataclass(frozen=True, slots=True)
class Assembled:
    """A whole message (or what arrived of it), and the stored parts to delete after."""

    parts: tuple[StoredPart, ...]  # in sequence order
    sender: str
    text: str
    timestamp: datetime
    incomplete: bool
    duplicates: tuple[StoredPart, ...] = ()  # parts that came twice: deleted too

    @property
    def stored(self) -> tuple[StoredPart, ...]:
        """Every stored PDU this message came from, to delete once it is handed over."""
        return self.parts + self.duplicates

    def message_id(self, modem_id: str) -> str:
        """A stable id: the same stored parts always give the same id (re-reads dedupe)."""
        digest = hashlib.sha256()
        for part in self.parts:
            digest.update(f"{part.storage}:{part.index}:{part.pdu.upper()}\n".encode("ascii"))
        return f"{modem_id}-{digest.hexdigest()[:24]}"


@dataclass(slots=True)
class _Group:
    first_seen: float
    total: int
    parts: dict[int, StoredPart] = field(default_factory=dict)
    duplicates: list[StoredPart] = field(default_factory=list)


def join_text(parts: list[DeliverPdu]) -> str:
    """The text of parts in order; raw units are joined first, so split chars heal."""
    alphabets = {p.alphabet for p in parts}
    if alphabets == {"GSM-7"}:  # an ESC at the end of one part escapes the next one's char
        return decode_gsm7(b"".join(p.payload for p in parts))
    if alphabets == {"UCS-2"}:  # an emoji's surrogate pair may straddle two parts
        return b"".join(p.payload for p in parts).decode("utf-16-be", errors="replace")
    return "".join(p.text for p in parts)


class Reassembler:
    """Holds parts of concatenated messages, keyed by sender, reference and size."""

    def __init__(self, *, timeout_seconds: float, monotonic: Callable[[], float]):
        self.timeout = timeout_seconds
        self._mono = monotonic
        self._groups: dict[GroupKey, _Group] = {}

    @property
    def held(self) -> int:
        """How many parts are waiting for the rest of their message."""
        return sum(len(g.parts) for g in self._groups.values())

    def add(self, part: StoredPart) -> Assembled | None:
        """Add one part; return the whole message when it is complete (or not multipart)."""
        concat = part.deliver.concat
        if concat is None or concat.total == 1:
            return _assemble([part], incomplete=False)
        key = (part.deliver.sender, concat.reference, concat.reference_bits, concat.total)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(self._mono(), concat.total)
        known = group.parts.get(concat.sequence)
        if known is not None and (known.storage, known.index) != (part.storage, part.index):
            if all((d.storage, d.index) != (part.storage, part.index) for d in group.duplicates):
                logger.info(
                    "duplicate part %d of %d from %s",
                    concat.sequence,
                    concat.total,
                    part.deliver.sender,
                )
                group.duplicates.append(part)
            return None
        group.parts[concat.sequence] = part
        if len(group.parts) < group.total:
            return None
        del self._groups[key]
        return _assemble(_ordered(group), incomplete=False, extra=group.duplicates)

    def expired(self) -> list[Assembled]:
        """Messages whose missing parts did not come in time: what arrived, marked incomplete."""
        now = self._mono()
        out: list[Assembled] = []
        for key, group in list(self._groups.items()):
            if now - group.first_seen >= self.timeout:
                del self._groups[key]
                missing = sorted(set(range(1, group.total + 1)) - set(group.parts))
                logger.warning(
                    "message from %s: parts %s of %d never came; delivering it incomplete",
                    key[0],
                    missing,
                    group.total,
                )
                out.append(_assemble(_ordered(group), incomplete=True, extra=group.duplicates))
        return out


def _ordered(group: _Group) -> list[StoredPart]:
    return [group.parts[seq] for seq in sorted(group.parts)]


def _assemble(
    parts: list[StoredPart], *, incomplete: bool, extra: list[StoredPart] | None = None
) -> Assembled:
    first = parts[0].deliver
    text = join_text([p.deliver for p in parts])
    return Assembled(
        parts=tuple(parts),
        sender=first.sender,
        text=text,
        timestamp=first.timestamp,
        incomplete=incomplete,
        duplicates=tuple(extra or ()),
    )
