"""SMS PDU codec for AT modems in PDU mode (3GPP TS 23.040, TS 27.005).

`encode_submit` builds the SMS-SUBMIT PDUs to write after AT+CMGS=<tpdu_length>,
one per segment, with a concatenation UDH when the text needs more than one. The
decoders (SMS-DELIVER, SMS-SUBMIT, SMS-STATUS-REPORT) live in `gateway.modem.pdu.decode`
(field readers in `gateway.modem.pdu.fields`) and are re-exported here: import from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway import gsm
from gateway.modem.pdu.decode import (
    DecodedPdu,
    DecodedSubmit,
    DeliverPdu,
    StatusCategory,
    StatusReportPdu,
    decode_any,
    decode_deliver,
    decode_status_report,
    decode_submit,
    status_category,
)
from gateway.modem.pdu.fields import Alphabet, ConcatInfo, PduError

logger = logging.getLogger(__name__)

__all__ = [
    "Alphabet",
    "ConcatInfo",
    "DecodedPdu",
    "DecodedSubmit",
    "DeliverPdu",
    "PduError",
    "StatusCategory",
    "StatusReportPdu",
    "SubmitPdu",
    "decode_any",
    "decode_deliver",
    "decode_status_report",
    "decode_submit",
    "encode_address",
    "encode_submit",
    "relative_validity",
    "status_category",
]

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81

_FO_SUBMIT = 0x01
_FO_VPF_RELATIVE = 0x10
_FO_SRR = 0x20
_FO_UDHI = 0x40
_DCS_GSM7 = 0x00
_DCS_UCS2 = 0x08
_MAX_UD_OCTETS = 140
_MAX_PARTS = 255
_MAX_VALIDITY_MINUTES = 63 * 10080  # 63 weeks, the largest relative TP-VP


@dataclass(frozen=True, slots=True)
class SubmitPdu:
    """One SMS-SUBMIT ready for AT+CMGS: the hex and the TPDU length to announce."""

    hex: str  # SMSC information field ("00" for the modem's default SMSC) + TPDU
    tpdu_length: int  # octets after the SMSC part: the <length> of AT+CMGS=<length>


def _semi_octets(digits: str) -> bytes:
    """Digits as swapped semi-octets, padded with 0xF when odd."""
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def _number_parts(number: str, *, what: str) -> tuple[int, str]:
    digits = number[1:] if number.startswith("+") else number
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{what} {number!r} is not a phone number (optional + then digits)")
    if len(digits) > 20:
        raise ValueError(f"{what} {number!r} has {len(digits)} digits; at most 20 fit")
    return (TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN), digits


def encode_address(number: str) -> bytes:
    """Encode a TP-DA address field: digit count, type of address, semi-octets."""
    toa, digits = _number_parts(number, what="number")
    return bytes([len(digits), toa]) + _semi_octets(digits)


def _encode_smsc(smsc: str | None) -> bytes:
    if smsc is None:
        return b"\x00"
    toa, digits = _number_parts(smsc, what="SMSC")
    body = bytes([toa]) + _semi_octets(digits)
    return bytes([len(body)]) + body


def relative_validity(minutes: int) -> int:
    """The relative TP-VP octet for a validity period, rounded up (TS 23.040 §9.2.3.12.1)."""
    if not 0 < minutes <= _MAX_VALIDITY_MINUTES:
        raise ValueError(f"validity must be 1-{_MAX_VALIDITY_MINUTES} minutes, got {minutes}")
    if minutes <= 720:  # 5-minute steps up to 12 hours
        return -(-minutes // 5) - 1
    if minutes <= 1440:  # 30-minute steps up to 24 hours
        return 143 + -(-(minutes - 720) // 30)
    if minutes <= 30 * 1440:  # days, 2 to 30
        return 166 + -(-minutes // 1440)
    return max(197, 192 + -(-minutes // 10080))  # weeks, 5 to 63


def _concat_udh(reference: int, total: int, sequence: int) -> bytes:
    """UDH with one concatenation element, 8-bit reference (IEI 0x00)."""
    return bytes([5, 0x00, 3, reference, total, sequence])


def _user_data(part: str, udh: bytes, *, ucs2: bool) -> tuple[int, bytes]:
    """TP-UDL and TP-UD for one segment's text behind an optional UDH."""
    if ucs2:
        ud = udh + part.encode("utf-16-be", "surrogatepass")
        return len(ud), ud
    septets = gsm.encode_gsm7(part)
    header_septets = (len(udh) * 8 + 6) // 7
    fill = header_septets * 7 - len(udh) * 8  # so the text starts on a septet boundary
    return header_septets + len(septets), udh + gsm.pack_septets(septets, fill_bits=fill)


def encode_submit(
    number: str,
    text: str,
    *,
    reference: int,
    request_status_report: bool = True,
    smsc: str | None = None,
    validity_minutes: int | None = None,
) -> list[SubmitPdu]:
    """Build the SMS-SUBMIT PDUs for a text, one per segment (see gsm.split)."""
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference must be 0-255, got {reference}")
    smsc_field = _encode_smsc(smsc)
    address = encode_address(number)
    vp = b"" if validity_minutes is None else bytes([relative_validity(validity_minutes)])
    ucs2 = gsm.analyse(text).encoding == "UCS-2"
    parts = gsm.split(text)
    if len(parts) > _MAX_PARTS:
        raise ValueError(f"text needs {len(parts)} segments; at most {_MAX_PARTS} can be linked")
    multipart = len(parts) > 1
    first = _FO_SUBMIT
    first |= _FO_VPF_RELATIVE if vp else 0
    first |= _FO_SRR if request_status_report else 0
    first |= _FO_UDHI if multipart else 0
    # TP-MR 0: the modem puts in its own message reference.
    head = bytes([first, 0x00]) + address + bytes([0x00, _DCS_UCS2 if ucs2 else _DCS_GSM7]) + vp
    pdus: list[SubmitPdu] = []
    for seq, part in enumerate(parts, start=1):
        udh = _concat_udh(reference, len(parts), seq) if multipart else b""
        udl, ud = _user_data(part, udh, ucs2=ucs2)
        if len(ud) > _MAX_UD_OCTETS:  # gsm.split keeps every part within its limit
            raise AssertionError(f"segment {seq} needs {len(ud)} octets of user data")
        tpdu = head + bytes([udl]) + ud
        pdus.append(SubmitPdu((smsc_field + tpdu).hex().upper(), len(tpdu)))
    logger.debug("encoded %d SMS-SUBMIT PDU(s), %s", len(pdus), "UCS-2" if ucs2 else "GSM-7")
    return pdus
