"""PDUs the fake modem produces: SMS-DELIVER and SMS-STATUS-REPORT, checked against real captures.

`build_deliver` and `build_status_report` are test-only encoders (the product only
decodes these); tests/test_modem_at.py checks that they reproduce captured vectors from
tests/fixtures/pdu/*.json octet for octet, which keeps the fake modem honest.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway import gsm

logger = logging.getLogger(__name__)

PDU_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pdu"


def vectors(name: str) -> dict[str, dict[str, Any]]:
    """The captured vectors of a fixture file, by id ('pdu' chunks joined into one string)."""
    data = json.loads((PDU_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for v in data["vectors"]:
        if isinstance(v.get("pdu"), list):
            v["pdu"] = "".join(v["pdu"])
        out[v["id"]] = v
    return out


def multipart_vector() -> dict[str, Any]:
    """The captured five-part SMS-DELIVER message."""
    data: dict[str, Any] = json.loads(
        (PDU_FIXTURES / "multipart_deliver.json").read_text(encoding="utf-8")
    )
    return data


def _semi(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def _address(number: str) -> bytes:
    digits = number.lstrip("+")
    toa = 0x91 if number.startswith("+") else 0x81
    return bytes([len(digits), toa]) + _semi(digits)


def _smsc(number: str | None) -> bytes:
    if number is None:
        return b"\x00"
    body = bytes([0x91 if number.startswith("+") else 0x81]) + _semi(number.lstrip("+"))
    return bytes([len(body)]) + body


def scts(when: datetime) -> bytes:
    """A TP-SCTS timestamp (semi-octets, quarter-hour zone)."""
    offset = when.utcoffset()
    quarters = int((offset.total_seconds() if offset else 0) // 900)
    zone = abs(quarters)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = bytes(((v % 10) << 4) | (v // 10) for v in fields)
    tz = ((zone % 10) << 4) | (zone // 10) | (0x08 if quarters < 0 else 0)
    return out + bytes([tz])


def build_deliver(
    sender: str,
    text: str,
    *,
    when: datetime,
    smsc: str | None = None,
    concat: tuple[int, int, int, int] | None = None,  # reference, total, sequence, bits
    ucs2: bool | None = None,
    raw_ucs2: bytes | None = None,
) -> str:
    """An SMS-DELIVER PDU (SMSC part first) as a modem prints it."""
    if ucs2 is None:
        ucs2 = raw_ucs2 is not None or not gsm.is_gsm7(text)
    udh = b""
    if concat is not None:
        ref, total, seq, bits = concat
        if bits == 16:
            udh = bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq])
        else:
            udh = bytes([5, 0x00, 3, ref, total, seq])
    first = 0x04 | (0x40 if udh else 0)  # SMS-DELIVER, no more messages to send
    if ucs2:
        body = raw_ucs2 if raw_ucs2 is not None else text.encode("utf-16-be", "surrogatepass")
        ud = udh + body
        udl = len(ud)
    else:
        septets = gsm.encode_gsm7(text)
        header = (len(udh) * 8 + 6) // 7
        fill = header * 7 - len(udh) * 8
        ud = udh + gsm.pack_septets(septets, fill_bits=fill)
        udl = header + len(septets)
    tpdu = bytes([first]) + _address(sender) + bytes([0x00, 0x08 if ucs2 else 0x00])
    tpdu += scts(when) + bytes([udl]) + ud
    return (_smsc(smsc) + tpdu).hex().upper()


# SCTS and discharge time of smslib's captured Kenyan report (smslib-kenya-no-smsc).
KENYA_TIMES = "110172111332E1" + "11017211133221"


def build_status_report(
    mr: int,
    recipient: str,
    *,
    status: int = 0,
    times_hex: str = KENYA_TIMES,
    smsc: str | None = None,
) -> str:
    """An SMS-STATUS-REPORT PDU (SMSC part first), timestamps copied from a capture."""
    tpdu = bytes([0x06, mr & 0xFF]) + _address(recipient) + bytes.fromhex(times_hex)
    tpdu += bytes([status])
    return (_smsc(smsc) + tpdu).hex().upper()
