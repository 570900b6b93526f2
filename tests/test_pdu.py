"""SMS PDU codec against published vectors (fixtures/pdu/*.json) and round trips."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import gsm
from gateway.modem import pdu
from gateway.modem.pdu import ConcatInfo, DecodedSubmit, DeliverPdu, PduError, StatusReportPdu

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).parent / "fixtures" / "pdu"
HELLOHELLO_DELIVER = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
HELLOHELLO_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
REPORT = "0006D60B911326880736F4111011719551401110117195714000"  # python-gsmmodem


@cache
def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _vectors(name: str, key: str = "vectors") -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in _fixture(name)[key]]


def _hex(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _concat(value: list[int] | None) -> ConcatInfo | None:
    return None if value is None else ConcatInfo(*value)


def _same_instant_and_offset(got: datetime, iso: str) -> None:
    want = datetime.fromisoformat(iso)
    assert got == want
    assert got.utcoffset() == want.utcoffset()


def _tpdu_length(hex_pdu: str) -> int:
    data = bytes.fromhex(hex_pdu)
    return len(data) - 1 - data[0]


# --- SMS-DELIVER --------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("deliver.json"))
def test_decode_deliver_published_vectors(vector: dict[str, Any]) -> None:
    hex_pdu = _hex(vector["pdu"])
    got = pdu.decode_deliver(hex_pdu)
    assert got.sender == vector["sender"]
    assert got.smsc == vector["smsc"]
    _same_instant_and_offset(got.timestamp, vector["timestamp"])
    if "text" in vector:
        assert got.text == vector["text"]
    else:
        assert got.text.startswith(vector["text_startswith"])
        assert got.text.endswith(vector["text_endswith"])
    assert got.alphabet == vector["alphabet"]
    assert got.concat == _concat(vector["concat"])
    if "tpdu_length" in vector:  # the <length> the modem printed in +CMGL
        assert _tpdu_length(hex_pdu) == vector["tpdu_length"]
    assert pdu.decode_any(hex_pdu) == got
    assert pdu.decode_any(hex_pdu.lower()) == got


def test_reassemble_five_part_message_received_out_of_order() -> None:
    fixture = _fixture("multipart_deliver.json")
    parts = [pdu.decode_deliver(p["pdu"]) for p in fixture["parts"]]
    for part, raw in zip(parts, fixture["parts"], strict=True):
        assert part.sender == fixture["sender"]
        assert part.concat == ConcatInfo(fixture["reference"], fixture["total"], raw["sequence"])
    ordered = sorted(parts, key=lambda p: p.concat.sequence if p.concat else 0)
    want = (fixture["text_block"] * fixture["text_blocks"])[: -fixture["text_strip_end"]]
    assert "".join(p.text for p in ordered) == want
    assert [len(p.text) for p in ordered] == [153, 153, 153, 153, 143]


def test_ucs2_part_ending_in_half_an_emoji_keeps_raw_units() -> None:
    # hand-assembled: a sender that split a surrogate pair across two parts (TS 23.040 allows
    # nothing else to be assumed); the text shows U+FFFD, the payload keeps the units
    first = "00440C915274000000100008423021015400210A050003070201" + "0048D83D"
    second = "00440C915274000000100008423021015400210A050003070202" + "DE000021"
    a, b = pdu.decode_deliver(first), pdu.decode_deliver(second)
    assert a.text == "H\ufffd"
    assert (a.payload + b.payload).decode("utf-16-be") == "H😀!"


def test_invalid_concatenation_element_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    # part 0 of 2 is invalid; TS 23.040 §9.2.3.24.1 says to ignore the element
    hex_pdu = "00440A9121436587090004122090028543800705000307020048"
    with caplog.at_level(logging.WARNING, logger="gateway.modem.pdu.fields"):
        got = pdu.decode_deliver(hex_pdu)
    assert got.concat is None
    assert got.text == "H"
    assert "ignoring concatenation element" in caplog.text


# --- SMS-STATUS-REPORT --------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("status_report.json"))
def test_decode_status_report_published_vectors(vector: dict[str, Any]) -> None:
    got = pdu.decode_status_report(vector["pdu"])
    assert got.smsc == vector["smsc"]
    assert got.message_reference == vector["message_reference"]
    assert got.recipient == vector["recipient"]
    _same_instant_and_offset(got.scts, vector["scts"])
    _same_instant_and_offset(got.discharge_time, vector["discharge_time"])
    assert got.status == vector["status"]
    assert got.status_category == vector["category"]
    assert pdu.decode_any(vector["pdu"]) == got


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (0x00, "delivered"), (0x01, "delivered"), (0x02, "delivered"),  # completed
        (0x1F, "delivered"),  # SC-specific, transaction completed
        (0x20, "pending"), (0x21, "pending"), (0x3F, "pending"),  # temporary, SC still trying
        (0x40, "failed"), (0x41, "failed"), (0x46, "failed"), (0x5F, "failed"),  # permanent
        (0x60, "failed"), (0x62, "failed"), (0x7F, "failed"),  # temporary, SC no longer trying
        (0x80, "failed"),  # reserved
    ],
)  # fmt: skip
def test_status_category(status: int, category: str) -> None:
    assert pdu.status_category(status) == category
    # the same value carried in a real report (python-gsmmodem's, with its TP-ST replaced)
    report = pdu.decode_status_report(REPORT[:-2] + f"{status:02X}")
    assert report.status == status
    assert report.status_category == category


def test_status_category_rejects_non_octets() -> None:
    with pytest.raises(ValueError, match="one octet"):
        pdu.status_category(256)


# --- SMS-SUBMIT ---------------------------------------------------------------------------


def _expected_submit(vector: dict[str, Any], hex_pdu: str) -> str:
    data = bytearray.fromhex(hex_pdu)
    first = data[0] + 1
    if vector.get("ignore_rd"):
        data[first] &= ~0x04
    if vector.get("ignore_mr"):
        data[first + 1] = 0
    return data.hex().upper()


def _submit_text(vector: dict[str, Any]) -> str:
    if "text_repeat" in vector:
        block, times = vector["text_repeat"]
        return str(block) * int(times)
    return str(vector["text"])


@pytest.mark.parametrize("vector", _vectors("submit.json", "encode"))
def test_encode_submit_matches_published_vectors(vector: dict[str, Any]) -> None:
    got = pdu.encode_submit(
        vector["number"],
        _submit_text(vector),
        reference=vector["reference"],
        request_status_report=vector["srr"],
        smsc=vector["smsc"],
        validity_minutes=vector["validity_minutes"],
    )
    assert [p.hex for p in got] == [_expected_submit(vector, h) for h, _ in vector["pdus"]]
    for part, (hex_pdu, at_cmgs_length) in zip(got, vector["pdus"], strict=True):
        assert part.tpdu_length == _tpdu_length(hex_pdu)
        if at_cmgs_length is not None:  # the AT+CMGS=<length> the source wrote
            assert part.tpdu_length == at_cmgs_length


@pytest.mark.parametrize("vector", _vectors("submit.json", "decode"))
def test_decode_submit_published_vectors(vector: dict[str, Any]) -> None:
    got = pdu.decode_submit(vector["pdu"])
    assert got.smsc == vector["smsc"]
    assert got.number == vector["number"]
    assert got.text == vector["text"]
    assert got.alphabet == vector["alphabet"]
    assert got.status_report_requested == vector["srr"]
    assert got.message_reference == vector["message_reference"]
    assert got.validity_minutes == vector["validity_minutes"]
    if vector["validity_until"] is None:
        assert got.validity_until is None
    else:
        assert got.validity_until is not None
        _same_instant_and_offset(got.validity_until, vector["validity_until"])
    assert got.concat == _concat(vector["concat"])
    assert pdu.decode_any(vector["pdu"]) == got


def test_smsc_field_matches_a_real_safaricom_capture() -> None:
    (part,) = pdu.encode_submit("+254712345678", "Habari", reference=0, smsc="+254722500000")
    assert part.hex.startswith("0791527422050000")  # as in the M-PESA captures in deliver.json
    assert part.tpdu_length == len(part.hex) // 2 - 8
    assert pdu.decode_submit(part.hex).smsc == "+254722500000"


def test_national_number_uses_type_of_address_81() -> None:
    (part,) = pdu.encode_submit("0712345678", "Hi", reference=0)
    assert part.hex.startswith("0021000A81" + "7021436587")
    assert pdu.decode_submit(part.hex).number == "0712345678"


def _decode_parts(parts: list[pdu.SubmitPdu]) -> list[DecodedSubmit]:
    decoded = [pdu.decode_submit(p.hex) for p in parts]
    for part in parts:  # what a fake modem checks: AT+CMGS=<n> counts the TPDU octets only
        assert part.tpdu_length == _tpdu_length(part.hex)
        assert part.tpdu_length <= 164  # 1+1+12 (TP-DA)+1+1+7 (TP-VP)+1+140 octets at most
    return decoded


def test_three_part_ucs2_with_emoji_round_trip() -> None:
    text = "ж" * 66 + "😀" + "ж" * 66 + "🙏🏾" + " Karibu sana!"
    info = gsm.analyse(text)
    assert (info.encoding, info.segments, info.ucs2_chars) == ("UCS-2", 3, ("ж", "😀", "🙏", "🏾"))
    parts = pdu.encode_submit("+254712345678", text, reference=0xA7)
    decoded = _decode_parts(parts)
    assert [d.concat for d in decoded] == [ConcatInfo(0xA7, 3, seq) for seq in (1, 2, 3)]
    assert [d.text for d in decoded] == gsm.split(text)
    assert decoded[0].text == "ж" * 66  # the emoji did not fit behind 66 units: it moved on
    assert decoded[1].text.startswith("😀")
    assert "".join(d.text for d in decoded) == text
    assert all("\ufffd" not in d.text for d in decoded)
    assert all(d.alphabet == "UCS-2" and d.status_report_requested for d in decoded)
    assert all(d.number == "+254712345678" for d in decoded)


def test_three_part_gsm7_with_escape_at_each_boundary_round_trip() -> None:
    text = "a" * 152 + "€" + "b" * 151 + "[" + "c" * 20
    parts = pdu.encode_submit("+254712345678", text, reference=9, request_status_report=False)
    decoded = _decode_parts(parts)
    assert [d.text for d in decoded] == ["a" * 152, "€" + "b" * 151, "[" + "c" * 20]
    assert [d.concat for d in decoded] == [ConcatInfo(9, 3, seq) for seq in (1, 2, 3)]
    assert not any(d.status_report_requested for d in decoded)
    assert bytes.fromhex(parts[0].hex)[13] == 7 + 152  # TP-UDL: header septets + text septets


@pytest.mark.parametrize(
    ("minutes", "octet", "decoded_minutes"),
    [(1, 0, 5), (30, 5, 30), (720, 143, 720), (721, 144, 750), (960, 151, 960),
     (1440, 167, 1440), (1441, 168, 2880), (4320, 169, 4320), (5760, 170, 5760),
     (43200, 196, 43200), (43201, 197, 50400), (524160, 244, 524160), (635040, 255, 635040)],
)  # fmt: skip
def test_relative_validity_rounds_up(minutes: int, octet: int, decoded_minutes: int) -> None:
    assert pdu.relative_validity(minutes) == octet
    (part,) = pdu.encode_submit("+254712345678", "x", reference=0, validity_minutes=minutes)
    assert pdu.decode_submit(part.hex).validity_minutes == decoded_minutes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"number": "", "text": "x"}, "not a phone number"),
        ({"number": "+", "text": "x"}, "not a phone number"),
        ({"number": "07x2", "text": "x"}, "not a phone number"),
        ({"number": "+٢٥٤٧", "text": "x"}, "not a phone number"),  # non-ASCII digits
        ({"number": "+" + "1" * 21, "text": "x"}, "at most 20"),
        ({"number": "+254712345678", "text": "x", "reference": 256}, "0-255"),
        ({"number": "+254712345678", "text": "x", "reference": -1}, "0-255"),
        ({"number": "+254712345678", "text": "x", "validity_minutes": 0}, "validity"),
        ({"number": "+254712345678", "text": "x", "validity_minutes": 635041}, "validity"),
        ({"number": "+254712345678", "text": "x", "smsc": "SMSC"}, "SMSC"),
        ({"number": "+254712345678", "text": "x" * 153 * 256}, "at most 255"),
    ],
)
def test_encode_submit_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("reference", 0)
    with pytest.raises(ValueError, match=message):
        pdu.encode_submit(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from("aZ09 @£€{}[]~^|\\\n"),
            st.sampled_from("’жé😀🙏🏾"),
            st.characters(codec="utf-8"),
        ),
        max_size=500,
    ),
    reference=st.integers(0, 255),
    srr=st.booleans(),
)
def test_encode_decode_submit_round_trip(text: str, reference: int, srr: bool) -> None:
    parts = pdu.encode_submit("+254712345678", text, reference=reference, request_status_report=srr)
    decoded = _decode_parts(parts)
    assert "".join(d.text for d in decoded) == text
    assert len(decoded) == gsm.analyse(text).segments
    if len(decoded) == 1:
        assert decoded[0].concat is None
    else:
        assert [d.concat for d in decoded] == [
            ConcatInfo(reference, len(decoded), seq) for seq in range(1, len(decoded) + 1)
        ]
    assert all(d.status_report_requested is srr for d in decoded)


# --- dispatch and malformed input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_pdu", "kind"),
    [
        (HELLOHELLO_DELIVER, DeliverPdu),
        (HELLOHELLO_SUBMIT, DecodedSubmit),
        (REPORT, StatusReportPdu),
    ],
)
def test_decode_any_dispatches_on_mti(hex_pdu: str, kind: type) -> None:
    assert isinstance(pdu.decode_any(hex_pdu), kind)
    assert isinstance(pdu.decode_any(" ".join([hex_pdu[:10], hex_pdu[10:]]) + "\r\n"), kind)


_DECODERS: dict[str, Callable[[str], object]] = {
    "any": pdu.decode_any,
    "deliver": pdu.decode_deliver,
    "submit": pdu.decode_submit,
    "status_report": pdu.decode_status_report,
}


@pytest.mark.parametrize("vector", _vectors("malformed.json"))
def test_malformed_pdus_raise_pdu_error(vector: dict[str, Any]) -> None:
    with pytest.raises(PduError, match=vector["error"]):
        _DECODERS[vector["decoder"]](vector["pdu"])


def test_pdu_error_is_a_value_error() -> None:
    assert issubclass(PduError, ValueError)


def test_invalid_time_zone_octet_reads_as_utc(caplog: pytest.LogCaptureFixture) -> None:
    # the Kenyan SMSC report in status_report.json carries TP-SCTS time zone 0xE1
    with caplog.at_level(logging.WARNING, logger="gateway.modem.pdu.fields"):
        report = pdu.decode_status_report(
            "079152742205000006070A817020957711112112113391E11121121133912100"
        )
    assert report.scts.utcoffset() == timedelta(0)
    assert report.discharge_time.utcoffset() == timedelta(hours=3)
    assert "bad time zone 0xE1" in caplog.text
