"""GSM 03.38 alphabet, segment counting and splitting, septet packing."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import gsm

logger = logging.getLogger(__name__)

BASIC_WITHOUT_ESC = gsm.GSM7_BASIC[:0x1B] + gsm.GSM7_BASIC[0x1C:]
SEPTETS_WITHOUT_ESC = bytes(range(0x1B)) + bytes(range(0x1C, 0x80))


def test_basic_alphabet_is_the_ts_23_038_table() -> None:
    assert len(gsm.GSM7_BASIC) == 128
    assert gsm.GSM7_BASIC[:0x10] == "@£$¥èéùìòÇ\nØø\rÅå"
    assert gsm.GSM7_BASIC[0x10:0x20] == "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    assert gsm.GSM7_BASIC[0x20:0x40] == " !\"#¤%&'()*+,-./0123456789:;<=>?"
    assert gsm.GSM7_BASIC[0x40:0x60] == "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    assert gsm.GSM7_BASIC[0x60:0x80] == "¿abcdefghijklmnopqrstuvwxyzäöñüà"
    # Greek capitals are the Greek code points, not look-alike Latin letters
    assert [f"{ord(c):04X}" for c in gsm.GSM7_BASIC[0x10:0x1B] if c != "_"] == [
        "0394", "03A6", "0393", "039B", "03A9", "03A0", "03A8", "03A3", "0398", "039E",
    ]  # fmt: skip


def test_whole_basic_alphabet_round_trips() -> None:
    assert gsm.encode_gsm7(BASIC_WITHOUT_ESC) == SEPTETS_WITHOUT_ESC
    assert gsm.decode_gsm7(SEPTETS_WITHOUT_ESC) == BASIC_WITHOUT_ESC
    assert gsm.analyse(BASIC_WITHOUT_ESC) == gsm.TextInfo("GSM-7", 127, 1, 160, ())


@pytest.mark.parametrize(
    ("char", "code"),
    [("\f", 0x0A), ("^", 0x14), ("{", 0x28), ("}", 0x29), ("\\", 0x2F),
     ("[", 0x3C), ("~", 0x3D), ("]", 0x3E), ("|", 0x40), ("€", 0x65)],
)  # fmt: skip
def test_extension_chars_cost_two_septets(char: str, code: int) -> None:
    assert gsm.encode_gsm7(char) == bytes([0x1B, code])
    assert gsm.decode_gsm7(bytes([0x1B, code])) == char
    assert gsm.analyse(char).units == 2
    assert gsm.analyse("a" + char).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment"),
    [
        ("", "GSM-7", 0, 1, 160),
        ("Habari", "GSM-7", 6, 1, 160),
        ("x" * 160, "GSM-7", 160, 1, 160),
        ("x" * 161, "GSM-7", 161, 2, 153),
        ("x" * 306, "GSM-7", 306, 2, 153),
        ("x" * 307, "GSM-7", 307, 3, 153),
        ("€" * 80, "GSM-7", 160, 1, 160),  # extension chars fill a single SMS exactly
        ("€" * 80 + "x", "GSM-7", 161, 2, 153),
        ("x" * 152 + "€", "GSM-7", 154, 1, 160),
        ("ü" * 160, "GSM-7", 160, 1, 160),  # Latin-1 chars in the basic table stay GSM-7
        ("ж" * 70, "UCS-2", 70, 1, 70),
        ("ж" * 71, "UCS-2", 71, 2, 67),
        ("ж" * 134, "UCS-2", 134, 2, 67),
        ("ж" * 135, "UCS-2", 135, 3, 67),
        ("😀" * 35, "UCS-2", 70, 1, 70),  # surrogate pairs count 2
        ("😀" * 36, "UCS-2", 72, 2, 67),
        ("😀" * 34 + "ж" * 3, "UCS-2", 71, 2, 67),  # 67 is odd: 33 emoji fit, the 34th moves on
    ],
)
def test_analyse_counts(
    text: str, encoding: str, units: int, segments: int, per_segment: int
) -> None:
    info = gsm.analyse(text)
    assert (info.encoding, info.units, info.segments, info.per_segment) == (
        encoding,
        units,
        segments,
        per_segment,
    )
    assert len(gsm.split(text)) == info.segments


@pytest.mark.parametrize(
    ("text", "ucs2_chars"),
    [
        ("It’s done", ("’",)),  # the curly apostrophe from phone keyboards and Word
        ("“Karibu” ‘sana’", ("“", "”", "‘", "’")),
        ("Zoë and Zoë", ("ë",)),  # distinct, in order of first appearance
        ("price `5`", ("`",)),  # the backtick is ASCII but not GSM
        ("a\x1bb", ("\x1b",)),  # a raw ESC is not a character of the alphabet
        ("Asante 🙏🏾", ("🙏", "🏾")),
    ],
)
def test_non_gsm_chars_force_ucs2_and_are_named(text: str, ucs2_chars: tuple[str, ...]) -> None:
    info = gsm.analyse(text)
    assert info.encoding == "UCS-2"
    assert info.ucs2_chars == ucs2_chars
    assert not gsm.is_gsm7(text)


def test_gsm_text_names_no_ucs2_chars() -> None:
    assert gsm.analyse("Karibu {x} €5").ucs2_chars == ()
    assert gsm.is_gsm7("Karibu {x} €5")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        # the ESC pair of an extension char never straddles two parts
        ("a" * 152 + "€" + "b" * 10, ["a" * 152, "€" + "b" * 10]),
        ("a" * 151 + "€" + "b" * 10, ["a" * 151 + "€", "b" * 10]),
        ("a" * 152 + "[]" + "b" * 7, ["a" * 152, "[]" + "b" * 7]),
        ("x" * 161, ["x" * 153, "x" * 8]),
        # a surrogate pair never straddles two UCS-2 parts
        ("ж" * 66 + "😀" + "ж" * 10, ["ж" * 66, "😀" + "ж" * 10]),
        ("ж" * 65 + "😀" + "ж" * 10, ["ж" * 65 + "😀", "ж" * 10]),
        ("😀" * 36, ["😀" * 33, "😀" * 3]),
        ("", [""]),
    ],
)
def test_split_at_boundaries(text: str, parts: list[str]) -> None:
    assert gsm.split(text) == parts
    assert gsm.analyse(text).segments == len(parts)


def test_split_of_a_ucs2_text_keeps_gsm_runs_in_ucs2_units() -> None:
    # one curly quote makes the whole text UCS-2, so 67-unit parts, even for plain letters
    text = "’" + "a" * 140
    parts = gsm.split(text)
    assert [len(p) for p in parts] == [67, 67, 7]


def test_encode_gsm7_names_the_offending_char_and_position() -> None:
    with pytest.raises(ValueError, match=r"'’' \(U\+2019\) at position 2"):
        gsm.encode_gsm7("It’s")


@pytest.mark.parametrize(
    ("septets", "text"),
    [
        (bytes([0x31, 0x1B]), "1"),  # a lone ESC at the end is dropped
        (bytes([0x1B, 0x41]), "A"),  # an undefined extension code shows the basic char
        (bytes([0x1B, 0x1B, 0x41]), " A"),  # ESC ESC is reserved: shown as a space
        (bytes([0x00, 0x02, 0x11]), "@$_"),
    ],
)
def test_decode_gsm7_edge_cases(septets: bytes, text: str) -> None:
    assert gsm.decode_gsm7(septets) == text


def test_decode_gsm7_rejects_octets_over_0x7f() -> None:
    with pytest.raises(ValueError, match="position 1"):
        gsm.decode_gsm7(bytes([0x41, 0x80]))


# Packed forms from python-gsmmodem's test_pdu.py (TestGsm7) and the classic "hellohello".
@pytest.mark.parametrize(
    ("text", "packed"),
    [
        ("123", "31D90C"),
        ("12345678", "31D98C56B3DD70"),
        ("123456789", "31D98C56B3DD7039"),
        ("Hello World!", "C8329BFD065DDF72363904"),
        ("[{abc}]~", "1BDE0615168F37A98D6FD303"),
        ("{åΦΓΛΩΠΨΣΘ€}", "1BD44332A1542C174C6653DEA400"),
        ("a[]{}€", "E10D6FE3DBA036A94D19"),
        ("hellohello", "E8329BFD4697D9EC37"),
    ],
)
def test_pack_septets_matches_published_vectors(text: str, packed: str) -> None:
    septets = gsm.encode_gsm7(text)
    assert gsm.pack_septets(septets).hex().upper() == packed
    assert gsm.unpack_septets(bytes.fromhex(packed), len(septets)) == septets
    assert gsm.decode_gsm7(septets) == text


def test_pack_with_fill_bits_after_a_six_octet_udh() -> None:
    # nRF SDK test_send_concat_220chars_2msgs: after UDH 050003010201 comes 1 fill bit
    packed = gsm.pack_septets(gsm.encode_gsm7("1234567890" * 2), fill_bits=1)
    assert packed.hex().upper().startswith("62B219AD66BBE172B0986C")
    assert gsm.decode_gsm7(gsm.unpack_septets(packed, 20, fill_bits=1)) == "1234567890" * 2
    assert gsm.pack_septets(b"", fill_bits=1) == b"\x00"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gsm.unpack_septets(b"\x00", 2), "need 2 octets"),
        (lambda: gsm.unpack_septets(b"\x00", 1, fill_bits=7), "fill_bits"),
        (lambda: gsm.pack_septets(b"\x80"), "exceeds 0x7F"),
        (lambda: gsm.pack_septets(b"a", fill_bits=-1), "fill_bits"),
        (lambda: gsm.unpack_septets(b"", -1), "negative"),
    ],
)
def test_packing_rejects_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# Text drawn from all the kinds that matter: GSM basic, GSM extension, BMP non-GSM, non-BMP.
_CHARS = st.one_of(
    st.sampled_from(BASIC_WITHOUT_ESC),
    st.sampled_from("".join(gsm.GSM7_EXTENSION)),
    st.sampled_from("’“”жé😀🙏🏾"),
    st.characters(codec="utf-8"),  # any char but a lone surrogate
)
_TEXTS = st.text(alphabet=_CHARS, max_size=700)


def _units(part: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return len(gsm.encode_gsm7(part))
    return len(part.encode("utf-16-be")) // 2


@given(_TEXTS)
def test_split_reassembles_and_every_part_fits(text: str) -> None:
    info = gsm.analyse(text)
    parts = gsm.split(text)
    assert "".join(parts) == text
    assert len(parts) == info.segments
    assert sum(_units(p, info.encoding) for p in parts) == info.units
    limit = info.per_segment
    single = len(parts) == 1
    assert limit == (
        (160 if single else 153) if info.encoding == "GSM-7" else (70 if single else 67)
    )
    for part in parts:
        assert _units(part, info.encoding) <= limit
        assert part or text == ""


@given(st.text(alphabet=st.sampled_from(BASIC_WITHOUT_ESC + "".join(gsm.GSM7_EXTENSION))))
def test_gsm7_text_round_trips_through_packing(text: str) -> None:
    septets = gsm.encode_gsm7(text)
    for fill in range(7):
        packed = gsm.pack_septets(septets, fill_bits=fill)
        assert len(packed) == (fill + 7 * len(septets) + 7) // 8
        assert gsm.decode_gsm7(gsm.unpack_septets(packed, len(septets), fill_bits=fill)) == text
