"""Field-level readers for SMS TPDUs (3GPP TS 23.040 §9.1-9.2), shared by the decoders.

`Reader` walks the octets and raises `PduError` naming the field and the octet
(counted from 0 at the start of the hex, SMSC part included) where input ran out or
broke the layout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from gateway.gsm import decode_gsm7, unpack_septets

logger = logging.getLogger(__name__)

Alphabet = Literal["GSM-7", "8-bit", "UCS-2"]

_BCD_DIGITS = "0123456789*#abc"  # semi-octet 0xF is the filler (TS 24.008 §10.5.4.7)
_TON_INTERNATIONAL = 1
_TON_ALPHANUMERIC = 5
_MAX_ADDRESS_DIGITS = 20
_MAX_SMSC_OCTETS = 11


class PduError(ValueError):
    """A PDU that is not hex, is truncated, or breaks the TS 23.040 layout."""


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """Concatenation UDH: which part of which multipart message this PDU is."""

    reference: int
    total: int
    sequence: int  # 1-based
    reference_bits: int = 8  # 8 (IEI 0x00) or 16 (IEI 0x08)


class Reader:
    """Walks the octets of a PDU, raising PduError that names the field and octet."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        """The next n octets of field `what`, or PduError if the PDU ends first."""
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise PduError(
                f"truncated PDU: {what} needs {n} octet(s) at octet {self.pos}, {left} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        """The next octet, field `what`."""
        return self.take(1, what)[0]


def parse_hex(hex_pdu: str) -> bytes:
    """The octets of a hex PDU (whitespace ignored), or PduError naming the bad char."""
    text = "".join(hex_pdu.split())
    if not text:
        raise PduError("empty PDU")
    for i, ch in enumerate(text):
        if ch not in "0123456789abcdefABCDEF":
            raise PduError(f"invalid hex character {ch!r} at position {i} (octet {i // 2})")
    if len(text) % 2:
        raise PduError(f"PDU hex has an odd number of digits ({len(text)})")
    return bytes.fromhex(text)


def bcd_digits(octets: bytes) -> str:
    """Semi-octet digits, low nibble first, stopping at the 0xF filler."""
    out: list[str] = []
    for b in octets:
        for nibble in (b & 0x0F, b >> 4):
            if nibble == 0x0F:
                return "".join(out)
            out.append(_BCD_DIGITS[nibble])
    return "".join(out)


def read_smsc(r: Reader) -> str | None:
    """The SMSC information field (TS 27.005 §3.1): the SMSC number, or None if absent."""
    at = r.pos
    n = r.octet("SMSC information length")
    if n == 0:
        return None
    if n > _MAX_SMSC_OCTETS:
        raise PduError(
            f"SMSC information length {n} at octet {at} exceeds {_MAX_SMSC_OCTETS}: "
            "does the hex lack its SMSC part?"
        )
    body = r.take(n, "SMSC address")
    digits = bcd_digits(body[1:])
    return "+" + digits if (body[0] >> 4) & 0x07 == _TON_INTERNATIONAL else digits


def read_address(r: Reader, what: str) -> str:
    """An address field (TS 23.040 §9.1.2.5): "+" digits, national digits, or text."""
    at = r.pos
    n_digits = r.octet(f"{what} length")
    if n_digits > _MAX_ADDRESS_DIGITS:
        raise PduError(f"{what} length {n_digits} at octet {at} exceeds {_MAX_ADDRESS_DIGITS}")
    toa = r.octet(f"{what} type of address")
    body = r.take((n_digits + 1) // 2, what)
    ton = (toa >> 4) & 0x07
    if ton == _TON_ALPHANUMERIC:
        return decode_gsm7(unpack_septets(body, n_digits * 4 // 7))
    digits = bcd_digits(body)[:n_digits]
    return "+" + digits if ton == _TON_INTERNATIONAL else digits


def read_timestamp(r: Reader, what: str) -> datetime:
    """A 7-octet semi-octet timestamp (TP-SCTS format, TS 23.040 §9.2.3.11), tz-aware."""
    at = r.pos
    raw = r.take(7, what)
    fields: list[int] = []
    for i, b in enumerate(raw[:6]):
        if b & 0x0F > 9 or b >> 4 > 9:
            raise PduError(f"{what}: semi-octets 0x{b:02X} at octet {at + i} are not decimal")
        fields.append((b & 0x0F) * 10 + (b >> 4))
    yy, month, day, hour, minute, second = fields
    tz_octet = raw[6]
    if tz_octet >> 4 > 9:
        # Seen from real SMSCs (e.g. 0xE1); the offset is unknowable, so read it as UTC.
        logger.warning("%s: bad time zone 0x%02X at octet %d; using UTC", what, tz_octet, at + 6)
        tz = UTC
    else:
        quarters = (tz_octet & 0x07) * 10 + (tz_octet >> 4)
        offset = timedelta(minutes=15 * quarters)
        tz = timezone(-offset if tz_octet & 0x08 else offset)
    year = (1900 if yy >= 90 else 2000) + yy  # no SMSC stamped a date before 1990
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise PduError(f"{what} at octet {at}: {exc}") from exc


def alphabet_of(dcs: int) -> Alphabet:
    """The character set a TP-DCS value names (TS 23.038 §4)."""
    group = dcs >> 4
    if group < 0x8:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            logger.warning("TP-DCS 0x%02X marks compressed text; decoding it as 8-bit", dcs)
            return "8-bit"
        return ("GSM-7", "8-bit", "UCS-2", "GSM-7")[(dcs >> 2) & 0x03]
    if group == 0xE:  # message waiting indication, store message, UCS-2
        return "UCS-2"
    if group == 0xF:  # data coding / message class
        return "8-bit" if dcs & 0x04 else "GSM-7"
    return "GSM-7"  # 0xC/0xD message waiting (GSM-7); 0x8-0xB reserved: assume GSM-7


def _parse_udh(header: bytes, at: int) -> ConcatInfo | None:
    """Walk the UDH information elements; return the concatenation one, if any."""
    concat: ConcatInfo | None = None
    i = 0
    while i < len(header):
        if i + 2 > len(header) or i + 2 + header[i + 1] > len(header):
            raise PduError(f"UDH information element at octet {at + i} overruns the header")
        iei, length = header[i], header[i + 1]
        data = header[i + 2 : i + 2 + length]
        i += 2 + length
        if iei == 0x00 and length == 3:
            ref, bits, total, seq = data[0], 8, data[1], data[2]
        elif iei == 0x08 and length == 4:
            ref, bits, total, seq = (data[0] << 8) | data[1], 16, data[2], data[3]
        else:
            logger.debug("skipping UDH element 0x%02X (%d octets)", iei, length)
            continue
        if total == 0 or not 1 <= seq <= total:
            # TS 23.040 §9.2.3.24.1: the receiving entity ignores such an element.
            logger.warning("ignoring concatenation element: part %d of %d", seq, total)
            continue
        concat = ConcatInfo(ref, total, seq, bits)
    return concat


def read_user_data(
    r: Reader, *, udhi: bool, alphabet: Alphabet
) -> tuple[str, ConcatInfo | None, bytes]:
    """TP-UDL and TP-UD: the text, the concatenation UDH if any, and the raw text units."""
    at = r.pos
    udl = r.octet("TP-UDL")
    limit = 160 if alphabet == "GSM-7" else 140
    if udl > limit:
        raise PduError(f"TP-UDL {udl} at octet {at} exceeds {limit} for {alphabet} text")
    n_octets = (udl * 7 + 7) // 8 if alphabet == "GSM-7" else udl
    ud = r.take(n_octets, f"TP-UD (TP-UDL {udl} at octet {at})")
    concat: ConcatInfo | None = None
    header_len = 0
    if udhi:
        if not ud or 1 + ud[0] > len(ud):
            raise PduError(f"TP-UDHI is set but the UDH at octet {at + 1} overruns TP-UD")
        header_len = 1 + ud[0]
        concat = _parse_udh(ud[1:header_len], at + 2)
    if alphabet == "GSM-7":
        header_septets = (header_len * 8 + 6) // 7
        if header_septets > udl:
            raise PduError(f"TP-UDL {udl} at octet {at} is shorter than its UDH")
        fill = header_septets * 7 - header_len * 8
        payload = unpack_septets(ud[header_len:], udl - header_septets, fill_bits=fill)
        return decode_gsm7(payload), concat, payload
    payload = ud[header_len:]
    if alphabet == "UCS-2":
        # A part may end in half a surrogate pair when the sender split an emoji;
        # it shows as U+FFFD here, and `payload` keeps the raw units for reassembly.
        return payload.decode("utf-16-be", errors="replace"), concat, payload
    return payload.decode("latin-1"), concat, payload
