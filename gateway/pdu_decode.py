"""Decoding of SMS PDUs as AT modems print them in PDU mode (3GPP TS 23.040, TS 27.005).

Every decoder takes the hex that AT+CMGR / AT+CMGL / +CMT / +CDS give, which starts
with the SMSC information field ("00" when the modem leaves it out). Malformed or
truncated input raises `PduError`, naming the field and the octet (counted from 0 at
the start of the hex) where decoding stopped. `gateway.pdu` re-exports all of this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from gateway.gsm import decode_gsm7, unpack_septets

logger = logging.getLogger(__name__)

Alphabet = Literal["GSM-7", "8-bit", "UCS-2"]
StatusCategory = Literal["delivered", "pending", "failed"]

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


@dataclass(frozen=True, slots=True)
class DeliverPdu:
    """A decoded SMS-DELIVER: a message a phone sent to us."""

    sender: str  # "+2547..." for international numbers; text for alphanumeric senders
    smsc: str | None
    timestamp: datetime  # TP-SCTS, timezone-aware
    text: str
    concat: ConcatInfo | None
    alphabet: Alphabet
    payload: bytes  # the text's raw units: septets (GSM-7) or octets (UCS-2, 8-bit)
    protocol_id: int = 0
    status_report_indication: bool = False


@dataclass(frozen=True, slots=True)
class DecodedSubmit:
    """A decoded SMS-SUBMIT: a message on its way from a phone (or from us) to the SMSC."""

    number: str
    text: str
    concat: ConcatInfo | None
    status_report_requested: bool
    message_reference: int
    alphabet: Alphabet
    smsc: str | None = None
    validity_minutes: int | None = None  # relative TP-VP
    validity_until: datetime | None = None  # absolute TP-VP


@dataclass(frozen=True, slots=True)
class StatusReportPdu:
    """A decoded SMS-STATUS-REPORT: the SMSC's word on a message we submitted."""

    message_reference: int  # TP-MR of the SMS-SUBMIT it reports on
    recipient: str
    scts: datetime  # when the SMSC took the original message
    discharge_time: datetime  # when it was delivered, or the status last changed
    status: int  # TP-ST
    smsc: str | None = None

    @property
    def status_category(self) -> StatusCategory:
        """The TP-ST value reduced to delivered / pending / failed."""
        return status_category(self.status)


DecodedPdu = DeliverPdu | DecodedSubmit | StatusReportPdu


def status_category(status: int) -> StatusCategory:
    """Map a TP-ST value (TS 23.040 §9.2.3.15) to delivered / pending / failed."""
    if not 0 <= status <= 0xFF:
        raise ValueError(f"TP-ST is one octet, got {status}")
    if status < 0x20:  # short message transaction completed (delivered, forwarded, replaced)
        return "delivered"
    if status < 0x40:  # temporary error, the SC is still trying
        return "pending"
    # 0x40-0x5F permanent error; 0x60-0x7F temporary error, the SC gave up;
    # 0x80-0xFF reserved: no delivery can be assumed, so a final failure.
    return "failed"


class _Reader:
    """Walks the octets of a PDU, raising PduError that names the field and octet."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise PduError(
                f"truncated PDU: {what} needs {n} octet(s) at octet {self.pos}, {left} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]


def _parse_hex(hex_pdu: str) -> bytes:
    text = "".join(hex_pdu.split())
    if not text:
        raise PduError("empty PDU")
    for i, ch in enumerate(text):
        if ch not in "0123456789abcdefABCDEF":
            raise PduError(f"invalid hex character {ch!r} at position {i} (octet {i // 2})")
    if len(text) % 2:
        raise PduError(f"PDU hex has an odd number of digits ({len(text)})")
    return bytes.fromhex(text)


def _bcd(octets: bytes) -> str:
    """Semi-octet digits, low nibble first, stopping at the 0xF filler."""
    out: list[str] = []
    for b in octets:
        for nibble in (b & 0x0F, b >> 4):
            if nibble == 0x0F:
                return "".join(out)
            out.append(_BCD_DIGITS[nibble])
    return "".join(out)


def _read_smsc(r: _Reader) -> str | None:
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
    digits = _bcd(body[1:])
    return "+" + digits if (body[0] >> 4) & 0x07 == _TON_INTERNATIONAL else digits


def _read_address(r: _Reader, what: str) -> str:
    at = r.pos
    n_digits = r.octet(f"{what} length")
    if n_digits > _MAX_ADDRESS_DIGITS:
        raise PduError(f"{what} length {n_digits} at octet {at} exceeds {_MAX_ADDRESS_DIGITS}")
    toa = r.octet(f"{what} type of address")
    body = r.take((n_digits + 1) // 2, what)
    ton = (toa >> 4) & 0x07
    if ton == _TON_ALPHANUMERIC:
        return decode_gsm7(unpack_septets(body, n_digits * 4 // 7))
    digits = _bcd(body)[:n_digits]
    return "+" + digits if ton == _TON_INTERNATIONAL else digits


def _read_timestamp(r: _Reader, what: str) -> datetime:
    """A 7-octet semi-octet timestamp (TP-SCTS format, TS 23.040 §9.2.3.11)."""
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


def _alphabet(dcs: int) -> Alphabet:
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


def _read_user_data(
    r: _Reader, *, udhi: bool, alphabet: Alphabet
) -> tuple[str, ConcatInfo | None, bytes]:
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


def _first_octet(r: _Reader, mti: int, name: str) -> int:
    at = r.pos
    fo = r.octet("first octet")
    if fo & 0x03 != mti:
        raise PduError(f"not an {name}: TP-MTI {fo & 0x03} in first octet 0x{fo:02X} at octet {at}")
    return fo


def _finish(r: _Reader, name: str) -> None:
    if r.pos < len(r.data):
        logger.debug("%s: ignoring %d trailing octet(s)", name, len(r.data) - r.pos)


def _deliver(r: _Reader, smsc: str | None) -> DeliverPdu:
    fo = _first_octet(r, 0, "SMS-DELIVER")
    sender = _read_address(r, "TP-OA")
    pid = r.octet("TP-PID")
    alphabet = _alphabet(r.octet("TP-DCS"))
    timestamp = _read_timestamp(r, "TP-SCTS")
    text, concat, payload = _read_user_data(r, udhi=bool(fo & 0x40), alphabet=alphabet)
    _finish(r, "SMS-DELIVER")
    return DeliverPdu(
        sender, smsc, timestamp, text, concat, alphabet, payload, pid, bool(fo & 0x20)
    )


def _relative_validity_minutes(vp: int) -> int:
    """TP-VP relative format (TS 23.040 §9.2.3.12.1) in minutes."""
    if vp <= 143:
        return (vp + 1) * 5
    if vp <= 167:
        return 720 + (vp - 143) * 30
    if vp <= 196:
        return (vp - 166) * 1440
    return (vp - 192) * 10080


def _submit(r: _Reader, smsc: str | None) -> DecodedSubmit:
    fo = _first_octet(r, 1, "SMS-SUBMIT")
    mr = r.octet("TP-MR")
    number = _read_address(r, "TP-DA")
    r.octet("TP-PID")
    alphabet = _alphabet(r.octet("TP-DCS"))
    vpf = (fo >> 3) & 0x03
    minutes: int | None = None
    until: datetime | None = None
    if vpf == 2:
        minutes = _relative_validity_minutes(r.octet("TP-VP"))
    elif vpf == 3:
        until = _read_timestamp(r, "TP-VP")
    elif vpf == 1:
        r.take(7, "TP-VP (enhanced)")
    text, concat, _ = _read_user_data(r, udhi=bool(fo & 0x40), alphabet=alphabet)
    _finish(r, "SMS-SUBMIT")
    return DecodedSubmit(number, text, concat, bool(fo & 0x20), mr, alphabet, smsc, minutes, until)


def _status_report(r: _Reader, smsc: str | None) -> StatusReportPdu:
    _first_octet(r, 2, "SMS-STATUS-REPORT")
    mr = r.octet("TP-MR")
    recipient = _read_address(r, "TP-RA")
    scts = _read_timestamp(r, "TP-SCTS")
    discharge = _read_timestamp(r, "TP-DT")
    status = r.octet("TP-ST")
    _finish(r, "SMS-STATUS-REPORT")  # TP-PI and what it announces are not needed here
    return StatusReportPdu(mr, recipient, scts, discharge, status, smsc)


def decode_deliver(hex_pdu: str) -> DeliverPdu:
    """Decode an SMS-DELIVER PDU (hex with its SMSC part first)."""
    r = _Reader(_parse_hex(hex_pdu))
    return _deliver(r, _read_smsc(r))


def decode_submit(hex_pdu: str) -> DecodedSubmit:
    """Decode an SMS-SUBMIT PDU (hex with its SMSC part first)."""
    r = _Reader(_parse_hex(hex_pdu))
    return _submit(r, _read_smsc(r))


def decode_status_report(hex_pdu: str) -> StatusReportPdu:
    """Decode an SMS-STATUS-REPORT PDU (hex with its SMSC part first)."""
    r = _Reader(_parse_hex(hex_pdu))
    return _status_report(r, _read_smsc(r))


def decode_any(hex_pdu: str) -> DecodedPdu:
    """Decode a PDU read from a modem's storage, choosing the decoder by TP-MTI."""
    r = _Reader(_parse_hex(hex_pdu))
    smsc = _read_smsc(r)
    if r.pos >= len(r.data):
        raise PduError(f"truncated PDU: no first octet at octet {r.pos}")
    mti = r.data[r.pos] & 0x03
    if mti == 0:
        return _deliver(r, smsc)
    if mti == 1:
        return _submit(r, smsc)
    if mti == 2:
        return _status_report(r, smsc)
    raise PduError(f"reserved TP-MTI 3 in first octet 0x{r.data[r.pos]:02X} at octet {r.pos}")
