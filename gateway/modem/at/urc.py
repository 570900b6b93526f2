"""Unsolicited result codes (URCs): which lines are URCs, and readers for the useful ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

logger = logging.getLogger(__name__)

# Names of unsolicited result codes: Huawei's ^-codes and the 27.005/27.007 ones.
URC_NAMES: Final = frozenset(
    {
        "^RSSI",
        "^HCSQ",
        "^BOOT",
        "^MODE",
        "^DSFLOWRPT",
        "^SRVST",
        "^SIMST",
        "^SYSSTART",
        "^NDISSTAT",
        "^CEND",
        "^ORIG",
        "^CONF",
        "^CONN",
        "^STIN",
        "^EARST",
        "+CMTI",
        "+CDSI",
        "+CDS",
        "+CMT",
        "+CBM",
        "+CREG",
        "+CGREG",
        "+CEREG",
        "+CUSD",
        "+CLIP",
        "+CRING",
        "RING",
    }
)
URC_WITH_PDU: Final = frozenset({"+CDS", "+CMT", "+CBM"})  # a PDU line follows


@dataclass(frozen=True, slots=True)
class Urc:
    """One unsolicited result code: its name (e.g. '+CMTI'), the line, and a PDU if any."""

    name: str
    line: str
    pdu: str | None = None

    @property
    def value(self) -> str:
        """The text after the colon, stripped."""
        return self.line.partition(":")[2].strip()


def line_name(line: str) -> str:
    """The name a result line starts with: '+CMGS' for '+CMGS: 12', 'RING' for 'RING'."""
    if line[:1] in ("+", "^"):
        return line.partition(":")[0].strip().upper()
    return line.strip().upper()


def storage_index(urc: Urc) -> tuple[str, int] | None:
    """The storage and index of a +CMTI / +CDSI line ('+CMTI: "SM",3' -> ('SM', 3))."""
    mem, _, index = urc.value.partition(",")
    index = index.strip()
    if not index.isdigit():
        logger.warning("unreadable %s line %r", urc.name, urc.line)
        return None
    return mem.strip().strip('"') or "SM", int(index)


def int_fields(value: str) -> list[int]:
    """The integer fields of a comma-separated value; non-numbers are skipped."""
    out: list[int] = []
    for part in value.split(","):
        item = part.strip().strip('"')
        if item.isdigit():
            out.append(int(item))
    return out


def rssi_dbm(rssi: int) -> int | None:
    """dBm for a 27.007 <rssi> (0-31) as AT+CSQ and ^RSSI give it; None for 99 (unknown)."""
    if not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi


class Radio:
    """What Huawei's ^RSSI and ^MODE lines (and AT+CSQ) tell about the radio link."""

    def __init__(self) -> None:
        self.rssi: int | None = None
        self.mode: str | None = None

    def observe(self, urc: Urc, modem_id: str) -> None:
        """Take in a URC about the radio; log calls and anything else at debug level."""
        if urc.name == "^RSSI":
            fields = int_fields(urc.value)
            self.rssi = fields[0] if fields else None
        elif urc.name == "^MODE":
            self.mode = urc.value
        elif urc.name in ("RING", "+CRING", "+CLIP"):
            logger.info("%s: incoming call ignored (%s)", modem_id, urc.line)
        else:
            logger.debug("%s: %s", modem_id, urc.line)

    def health(self) -> dict[str, object]:
        """Signal and network mode for /healthz."""
        dbm = rssi_dbm(self.rssi) if self.rssi is not None else None
        return {"signal": {"rssi": self.rssi, "dbm": dbm}, "mode": self.mode}
