"""Decoding of SMS PDUs as AT modems print them in PDU mode (3GPP TS 23.040, TS 27.005).

Every decoder takes the hex that AT+CMGR / AT+CMGL / +CMT / +CDS give, which starts
with the SMSC information field ("00" when the modem leaves it out). Malformed or
truncated input raises `PduError`, naming the field and the octet (counted from 0 at
the start of the hex) where decoding stopped. `gateway.modem.pdu` re-exports all of this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.modem.pdu.fields import (
    Alphabet,
    ConcatInfo,
    PduError,
    Reader,
    alphabet_of,
    parse_hex,
    read_address,
    read_smsc,
    read_timestamp,
    read_user_data,
)

logger = logging.getLogger(__name__)


StatusCategory = Literal["delivered", "pending", "failed"]


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


def _first_octet(r: Reader, mti: int, name: str) -> int:
    at = r.pos
    fo = r.octet("first octet")
    if fo & 0x03 != mti:
        raise PduError(f"not an {name}: TP-MTI {fo & 0x03} in first octet 0x{fo:02X} at octet {at}")
    return fo


def _finish(r: Reader, name: str) -> None:
    if r.pos < len(r.data):
        logger.debug("%s: ignoring %d trailing octet(s)", name, len(r.data) - r.pos)


def _deliver(r: Reader, smsc: str | None) -> DeliverPdu:
    fo = _first_octet(r, 0, "SMS-DELIVER")
    sender = read_address(r, "TP-OA")
    pid = r.octet("TP-PID")
    alphabet = alphabet_of(r.octet("TP-DCS"))
    timestamp = read_timestamp(r, "TP-SCTS")
    text, concat, payload = read_user_data(r, udhi=bool(fo & 0x40), alphabet=alphabet)
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


def _submit(r: Reader, smsc: str | None) -> DecodedSubmit:
    fo = _first_octet(r, 1, "SMS-SUBMIT")
    mr = r.octet("TP-MR")
    number = read_address(r, "TP-DA")
    r.octet("TP-PID")
    alphabet = alphabet_of(r.octet("TP-DCS"))
    vpf = (fo >> 3) & 0x03
    minutes: int | None = None
    until: datetime | None = None
    if vpf == 2:
        minutes = _relative_validity_minutes(r.octet("TP-VP"))
    elif vpf == 3:
        until = read_timestamp(r, "TP-VP")
    elif vpf == 1:
        r.take(7, "TP-VP (enhanced)")
    text, concat, _ = read_user_data(r, udhi=bool(fo & 0x40), alphabet=alphabet)
    _finish(r, "SMS-SUBMIT")
    return DecodedSubmit(number, text, concat, bool(fo & 0x20), mr, alphabet, smsc, minutes, until)


def _status_report(r: Reader, smsc: str | None) -> StatusReportPdu:
    _first_octet(r, 2, "SMS-STATUS-REPORT")
    mr = r.octet("TP-MR")
    recipient = read_address(r, "TP-RA")
    scts = read_timestamp(r, "TP-SCTS")
    discharge = read_timestamp(r, "TP-DT")
    status = r.octet("TP-ST")
    _finish(r, "SMS-STATUS-REPORT")  # TP-PI and what it announces are not needed here
    return StatusReportPdu(mr, recipient, scts, discharge, status, smsc)


def decode_deliver(hex_pdu: str) -> DeliverPdu:
    """Decode an SMS-DELIVER PDU (hex with its SMSC part first)."""
    r = Reader(parse_hex(hex_pdu))
    return _deliver(r, read_smsc(r))


def decode_submit(hex_pdu: str) -> DecodedSubmit:
    """Decode an SMS-SUBMIT PDU (hex with its SMSC part first)."""
    r = Reader(parse_hex(hex_pdu))
    return _submit(r, read_smsc(r))


def decode_status_report(hex_pdu: str) -> StatusReportPdu:
    """Decode an SMS-STATUS-REPORT PDU (hex with its SMSC part first)."""
    r = Reader(parse_hex(hex_pdu))
    return _status_report(r, read_smsc(r))


def decode_any(hex_pdu: str) -> DecodedPdu:
    """Decode a PDU read from a modem's storage, choosing the decoder by TP-MTI."""
    r = Reader(parse_hex(hex_pdu))
    smsc = read_smsc(r)
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
