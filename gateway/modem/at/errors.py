"""AT error types and the +CME / +CMS ERROR tables (3GPP TS 27.007 §9.2, TS 27.005 §3.2.5)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final


class ErrorKind(enum.Enum):
    """What a +CMS ERROR during AT+CMGS means for the message being sent."""

    PERMANENT = "permanent"  # this message to this number will not go: fail it
    TEMPORARY = "temporary"  # this message may go later: retry it with backoff
    MODEM = "modem"  # the modem, SIM or network cannot send now: try another modem


class ATError(Exception):
    """An AT command failed; the message names the command and the result."""


class CommandError(ATError):
    """The modem answered ERROR, COMMAND NOT SUPPORT or TOO MANY PARAMETERS."""

    def __init__(self, command: str, result: str):
        super().__init__(f"{command}: {result}")
        self.command = command
        self.result = result


class CmeError(ATError):
    """The modem answered +CME ERROR: <code> (equipment errors)."""

    def __init__(self, command: str, code: int):
        super().__init__(f"{command}: +CME ERROR: {code} ({cme_meaning(code)})")
        self.command = command
        self.code = code

    @property
    def busy(self) -> bool:
        """SIM busy or device busy: worth retrying after a delay."""
        return self.code in BUSY_CME


class CmsError(ATError):
    """The modem answered +CMS ERROR: <code> (message service errors)."""

    def __init__(self, command: str, code: int):
        super().__init__(f"{command}: {cms_reason(code)}")
        self.command = command
        self.code = code

    @property
    def busy(self) -> bool:
        """SIM busy or device busy: worth retrying after a delay."""
        return self.code in BUSY_CMS

    @property
    def kind(self) -> ErrorKind:
        """Whether the message should fail, be retried, or go through another modem."""
        return cms_kind(self.code)


class ATTimeout(ATError):
    """No final result within the time allowed; the channel is out of step."""

    def __init__(self, message: str, *, written: bool = False, lines: Sequence[str] = ()):
        super().__init__(message)
        self.written = written  # True when the command's data had been written
        self.lines = tuple(lines)  # the information lines that came before time ran out


class PortClosed(ATError):
    """The serial port went away (dongle unplugged) or was closed."""

    def __init__(self, message: str, *, written: bool = False):
        super().__init__(message)
        self.written = written  # True when the command's data had been written


class SimError(ATError):
    """The SIM needs a PIN or PUK we cannot give, or is missing or broken."""


# TS 27.007 §9.2.1 and the common manufacturer codes.
CME_MEANINGS: Final[dict[int, str]] = {
    0: "phone failure",
    1: "no connection to phone",
    2: "phone-adaptor link reserved",
    3: "operation not allowed",
    4: "operation not supported",
    5: "PH-SIM PIN required",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    100: "unknown error",
    515: "device busy",
}
BUSY_CME: Final = frozenset({14, 515})
BUSY_CMS: Final = frozenset({314, 515, 527})

P, T, M = ErrorKind.PERMANENT, ErrorKind.TEMPORARY, ErrorKind.MODEM

# TS 27.005 §3.2.5: 0-127 are RP causes (TS 24.011 Annex E-2), 128-255 TP-FCS values
# (TS 23.040 §9.2.3.22), 300-340 ME/TA errors, 500 unknown, 512+ manufacturer specific
# (the Wavecom/Sierra numbering, which many modems copy).
CMS_TABLE: Final[dict[int, tuple[str, ErrorKind]]] = {
    1: ("unassigned (unallocated) number", P),
    8: ("operator determined barring", M),
    10: ("call barred", P),
    17: ("network failure", T),
    21: ("short message transfer rejected", P),
    22: ("congestion", T),
    27: ("destination out of service", T),
    28: ("unidentified subscriber", P),
    29: ("facility rejected", P),
    30: ("unknown subscriber", P),
    38: ("network out of order", T),
    41: ("temporary failure", T),
    42: ("congestion", T),
    47: ("resources unavailable, unspecified", T),
    50: ("requested facility not subscribed", M),
    69: ("requested facility not implemented", P),
    81: ("invalid short message transfer reference value", T),
    95: ("invalid message, unspecified", P),
    96: ("invalid mandatory information", P),
    97: ("message type non-existent or not implemented", P),
    98: ("message not compatible with short message protocol state", T),
    99: ("information element non-existent or not implemented", P),
    111: ("protocol error, unspecified", T),
    127: ("interworking, unspecified", T),
    128: ("telematic interworking not supported", P),
    129: ("short message type 0 not supported", P),
    130: ("cannot replace short message", P),
    143: ("unspecified TP-PID error", P),
    144: ("data coding scheme (alphabet) not supported", P),
    145: ("message class not supported", P),
    159: ("unspecified TP-DCS error", P),
    160: ("command cannot be actioned", P),
    161: ("command unsupported", P),
    175: ("unspecified TP-command error", P),
    176: ("TPDU not supported", P),
    192: ("SC busy", T),
    193: ("no SC subscription", M),
    194: ("SC system failure", T),
    195: ("invalid SME address", P),
    196: ("destination SME barred", P),
    197: ("SM rejected - duplicate SM", P),
    198: ("TP-VPF not supported", P),
    199: ("TP-VP not supported", P),
    208: ("SIM SMS storage full", M),
    209: ("no SMS storage capability in SIM", M),
    210: ("error in MS", T),
    211: ("memory capacity exceeded", T),
    212: ("SIM application toolkit busy", T),
    213: ("SIM data download error", T),
    255: ("unspecified error cause", T),
    300: ("ME failure", M),
    301: ("SMS service of ME reserved", M),
    302: ("operation not allowed", M),
    303: ("operation not supported", M),
    304: ("invalid PDU mode parameter", P),
    305: ("invalid text mode parameter", P),
    310: ("SIM not inserted", M),
    311: ("SIM PIN required", M),
    312: ("PH-SIM PIN required", M),
    313: ("SIM failure", M),
    314: ("SIM busy", M),
    315: ("SIM wrong", M),
    316: ("SIM PUK required", M),
    317: ("SIM PIN2 required", M),
    318: ("SIM PUK2 required", M),
    320: ("memory failure", M),
    321: ("invalid memory index", M),
    322: ("memory full", M),
    330: ("SMSC address unknown", M),
    331: ("no network service", M),
    332: ("network timeout", T),
    340: ("no +CNMA acknowledgement expected", T),
    500: ("unknown error", T),
    512: ("MM establishment failure", M),
    513: ("lower layer failure", T),
    514: ("CP error", T),
    515: ("device busy", M),
    517: ("SIM toolkit facility not supported", M),
    518: ("SIM toolkit indication not received", M),
    519: ("reset the product to activate the change", M),
    520: ("automatic abort of PLMN list for an incoming call", T),
    526: ("PIN deactivation forbidden with this SIM card", M),
    527: ("please wait, RR or MM is busy", M),
    528: ("location update failure, emergency calls only", M),
    529: ("PLMN selection failure, emergency calls only", M),
    531: ("number not in the FDN phonebook while FDN is locked", P),
    532: ("the embedded application is active", M),
    533: ("missing or unknown APN", M),
    535: ("service not available", M),
}

del P, T, M


def cme_meaning(code: int) -> str:
    """The meaning of a +CME ERROR code, or 'unknown CME error'."""
    return CME_MEANINGS.get(code, "unknown CME error")


def error_code(text: str) -> int:
    """The number in '+CME ERROR: 14'; verbose (AT+CMEE=2) forms are looked up; else 100."""
    value = text.partition(":")[2].strip()
    if value.isdigit():
        return int(value)
    if text.upper().startswith("+CMS"):
        by_text = {meaning.lower(): code for code, (meaning, _) in CMS_TABLE.items()}
        return by_text.get(value.lower(), 500)
    by_text = {meaning.lower(): code for code, meaning in CME_MEANINGS.items()}
    return by_text.get(value.lower(), 100)


def cms_meaning(code: int) -> str:
    """The meaning of a +CMS ERROR code, by range when the table lacks it."""
    entry = CMS_TABLE.get(code)
    if entry is not None:
        return entry[0]
    if code < 128:
        return "network (RP) error"
    if code < 256:
        return "SMS transfer (TP) error"
    if code >= 512:
        return "manufacturer-specific error"
    return "reserved error code"


def cms_kind(code: int) -> ErrorKind:
    """Permanent, temporary or modem-level, for codes outside the table by range."""
    entry = CMS_TABLE.get(code)
    if entry is not None:
        return entry[1]
    if 128 <= code < 192:  # TP-PID, TP-DCS and command errors: the PDU itself is refused
        return ErrorKind.PERMANENT
    return ErrorKind.TEMPORARY


def cms_reason(code: int) -> str:
    """The reason recorded for a failed message, e.g. 'CMS ERROR 500: unknown error'."""
    return f"CMS ERROR {code}: {cms_meaning(code)}"
