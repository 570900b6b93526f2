"""Reading the modem's message storage (AT+CMGR, AT+CMGL) and deleting what was handled."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.modem.at.channel import ATChannel
from gateway.modem.at.errors import CmeError, CmsError
from gateway.modem.spec import ModemSettings
from gateway.modem.startup import run

logger = logging.getLogger(__name__)

_INVALID_INDEX = frozenset({321, 21, 22})  # CMS 321 / CME 21, 22: nothing at that index


@dataclass(frozen=True, slots=True)
class Stored:
    """One PDU as the modem printed it from storage."""

    storage: str
    index: int
    stat: int | None  # 0 unread, 1 read, 2 stored unsent, 3 stored sent, None unknown
    pdu: str


def _is_hex(text: str) -> bool:
    return bool(text) and all(ch in "0123456789abcdefABCDEF" for ch in text)


def parse_cmgl(lines: list[str], storage: str) -> list[Stored]:
    """Pairs of '+CMGL: <index>,<stat>,[<alpha>],<length>' and PDU lines."""
    out: list[Stored] = []
    head: list[str] | None = None
    for line in lines:
        if line.startswith("+CMGL:"):
            head = [f.strip() for f in line.partition(":")[2].split(",")]
            continue
        if head is None:
            logger.debug("CMGL: line without a header: %r", line)
            continue
        if not _is_hex(line) or not head[0].isdigit():
            logger.warning("CMGL: unreadable entry %r / %r", head, line)
        else:
            stat = int(head[1]) if len(head) > 1 and head[1].isdigit() else None
            out.append(Stored(storage, int(head[0]), stat, line))
        head = None
    return out


def parse_cmgr(lines: list[str], *, storage: str, index: int) -> Stored | None:
    """'+CMGR: <stat>,[<alpha>],<length>' then the PDU; None when the slot is empty."""
    stat: int | None = None
    for line in lines:
        if line.startswith("+CMGR:"):
            first = line.partition(":")[2].split(",")[0].strip()
            stat = int(first) if first.isdigit() else None
        elif _is_hex(line):
            return Stored(storage, index, stat, line)
    return None


class StorageAccess:
    """Reads and deletes stored messages, switching the read storage when needed."""

    def __init__(self, channel: ATChannel, settings: ModemSettings, *, storage: str):
        self.channel = channel
        self.settings = settings
        self.default = storage
        self.current = storage

    async def use(self, storage: str) -> None:
        """Point <mem1> (read / list / delete) at a storage, e.g. SR for status reports."""
        if storage != self.current:
            await run(
                self.channel, f'AT+CPMS="{storage}"', settings=self.settings, expect=("+CPMS",)
            )
            self.current = storage

    async def read(self, storage: str, index: int) -> Stored | None:
        """AT+CMGR=<index>; None when nothing is there (already deleted, or never was)."""
        await self.use(storage)
        try:
            lines = await run(
                self.channel, f"AT+CMGR={index}", settings=self.settings, expect=("+CMGR",)
            )
        except (CmsError, CmeError) as exc:
            if exc.code in _INVALID_INDEX:
                return None
            raise
        return parse_cmgr(lines, storage=storage, index=index)

    async def list_all(self, storage: str | None = None) -> list[Stored]:
        """AT+CMGL=4: every message in the storage, read or not."""
        mem = storage or self.default
        await self.use(mem)
        lines = await run(self.channel, "AT+CMGL=4", settings=self.settings, expect=("+CMGL",))
        return parse_cmgl(lines, mem)

    async def delete(self, storage: str, index: int) -> None:
        """AT+CMGD=<index>; an already empty slot is not an error."""
        await self.use(storage)
        try:
            await run(self.channel, f"AT+CMGD={index}", settings=self.settings)
        except (CmsError, CmeError) as exc:
            if exc.code not in _INVALID_INDEX:
                raise
