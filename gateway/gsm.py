"""GSM 03.38 text encoding and SMS segmentation (3GPP TS 23.038 and TS 23.040).

`analyse` tells how a text will travel (GSM-7 or UCS-2, how many units, how many
segments); `split` cuts it into the per-segment texts; `encode_gsm7` / `decode_gsm7`
map text to and from septet values; `pack_septets` / `unpack_septets` do the 7-bit
packing used in PDUs.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

logger = logging.getLogger(__name__)

ESC: Final = 0x1B

# The GSM 7-bit default alphabet, indexed by septet value (TS 23.038 §6.2.1).
# Position 0x1B is the escape to the extension table, not a character: it holds
# "\x1b" here only to keep the indexes right, and is never encoded from text.
GSM7_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# The default alphabet extension table (TS 23.038 §6.2.1.1): char -> code after ESC.
GSM7_EXTENSION: Final[dict[str, int]] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153  # 160 less the 7 septets of a concatenation UDH
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67  # 70 less the 3 UTF-16 units of a concatenation UDH

Encoding = Literal["GSM-7", "UCS-2"]

_BASIC_CODE: Final = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESC}
_EXT_BY_CODE: Final = {code: ch for ch, code in GSM7_EXTENSION.items()}
_GSM_CHARS: Final = frozenset(_BASIC_CODE) | frozenset(GSM7_EXTENSION)

# str.translate tables: text -> septets (as code points 0-127) and back.
_ENCODE_TABLE: Final[dict[int, str]] = {ord(ch): chr(i) for ch, i in _BASIC_CODE.items()} | {
    ord(ch): chr(ESC) + chr(code) for ch, code in GSM7_EXTENSION.items()
}
_DECODE_TABLE: Final[dict[int, str]] = {i: ch for ch, i in _BASIC_CODE.items()}

_NON_GSM_RE: Final = re.compile("[^" + re.escape("".join(sorted(_GSM_CHARS))) + "]")
_EXT_RE: Final = re.compile("[" + re.escape("".join(GSM7_EXTENSION)) + "]")
_ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")
_GSM_ASCII_BYTES: Final = bytes(sorted(ord(ch) for ch in _GSM_CHARS if ch.isascii()))
_EXT_ASCII_BYTES: Final = bytes(sorted(ord(ch) for ch in GSM7_EXTENSION if ch.isascii()))


@dataclass(frozen=True, slots=True)
class TextInfo:
    """How a text travels as SMS: its encoding, size and number of segments."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2 (UDH not counted)
    segments: int
    per_segment: int  # capacity of each segment: 160/153 (GSM-7) or 70/67 (UCS-2)
    ucs2_chars: tuple[str, ...]  # distinct non-GSM chars, in order of first appearance


# Shared answers for the common single-segment GSM-7 case (instances are immutable).
_GSM_SINGLE_INFO: Final = tuple(
    TextInfo("GSM-7", units, 1, GSM7_SINGLE, ()) for units in range(GSM7_SINGLE + 1)
)


def analyse(text: str) -> TextInfo:
    """Tell the encoding, unit count and segment count the text needs."""
    if text.isascii():  # the common case, kept to a few C-level passes over bytes
        raw = text.encode("ascii")
        if not raw.translate(None, _GSM_ASCII_BYTES):
            n_ext = len(raw) - len(raw.translate(None, _EXT_ASCII_BYTES))
            return _gsm_info(text, len(raw) + n_ext, n_ext)
    elif _NON_GSM_RE.search(text) is None:
        n_ext = len(_EXT_RE.findall(text))
        return _gsm_info(text, len(text) + n_ext, n_ext)
    bad = tuple(dict.fromkeys(_NON_GSM_RE.findall(text)))
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units == len(text):  # all in the BMP: one UTF-16 unit per char
        segments = 1 if units <= UCS2_SINGLE else -(-units // UCS2_MULTI)
    else:
        heavy = _heavy_positions(text, _ASTRAL_RE)
        segments = 1 if units <= UCS2_SINGLE else len(_part_bounds(len(text), heavy, UCS2_MULTI))
    return TextInfo("UCS-2", units, segments, UCS2_SINGLE if segments == 1 else UCS2_MULTI, bad)


def _gsm_info(text: str, units: int, n_ext: int) -> TextInfo:
    if units <= GSM7_SINGLE:
        return _GSM_SINGLE_INFO[units]
    if n_ext:
        segments = len(_part_bounds(len(text), _heavy_positions(text, _EXT_RE), GSM7_MULTI))
    else:
        segments = -(-units // GSM7_MULTI)
    return _gsm_multi_info(units, segments)


@functools.lru_cache(maxsize=4096)
def _gsm_multi_info(units: int, segments: int) -> TextInfo:
    return TextInfo("GSM-7", units, segments, GSM7_MULTI, ())


def _heavy_positions(text: str, pattern: re.Pattern[str]) -> list[int]:
    """Indexes of the chars that cost two units (extension chars, or non-BMP chars)."""
    return [m.start() for m in pattern.finditer(text)]


def _part_bounds(n: int, heavy: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Greedily cut n chars into parts of at most `limit` units; heavy chars cost 2."""
    bounds: list[tuple[int, int]] = []
    start = 0
    h = 0
    while start < n:
        budget = limit
        pos = start
        while True:
            nxt = heavy[h] if h < len(heavy) else n
            if nxt - pos >= budget:  # the part fills up before the next heavy char
                end = pos + budget
                break
            budget -= nxt - pos
            pos = nxt
            if pos == n:
                end = n
                break
            if budget < 2:  # the heavy char would straddle: it opens the next part
                end = pos
                break
            budget -= 2
            pos += 1
            h += 1
        bounds.append((start, end))
        start = end
    return bounds


def split(text: str) -> list[str]:
    """Cut the text into the texts of its segments, never splitting a char's units."""
    info = analyse(text)
    if info.segments == 1:
        return [text]
    if info.encoding == "GSM-7":
        heavy = _heavy_positions(text, _EXT_RE)
        limit = GSM7_MULTI
    else:
        heavy = _heavy_positions(text, _ASTRAL_RE)
        limit = UCS2_MULTI
    return [text[a:b] for a, b in _part_bounds(len(text), heavy, limit)]


def is_gsm7(text: str) -> bool:
    """True when every char of the text is in the GSM 7-bit alphabet or its extension."""
    return _NON_GSM_RE.search(text) is None


def encode_gsm7(text: str) -> bytes:
    """Encode text as GSM-7 septet values, one byte each, ESC before extension chars."""
    bad = _NON_GSM_RE.search(text)
    if bad is not None:
        ch = bad.group()
        raise ValueError(
            f"character {ch!r} (U+{ord(ch):04X}) at position {bad.start()} "
            "is not in the GSM 7-bit alphabet"
        )
    return text.translate(_ENCODE_TABLE).encode("latin-1")


def decode_gsm7(septets: bytes) -> str:
    """Decode GSM-7 septet values (one per byte) to text, resolving ESC sequences."""
    if max(septets, default=0) > 0x7F:
        pos = next(i for i, b in enumerate(septets) if b > 0x7F)
        raise ValueError(f"septet value 0x{septets[pos]:02X} at position {pos} exceeds 0x7F")
    if ESC not in septets:
        return septets.decode("latin-1").translate(_DECODE_TABLE)
    out: list[str] = []
    i = 0
    n = len(septets)
    while i < n:
        b = septets[i]
        if b != ESC:
            out.append(GSM7_BASIC[b])
            i += 1
            continue
        if i + 1 == n:  # a lone ESC at the end: nothing to show (its char went elsewhere)
            logger.debug("GSM-7 text ends in a lone ESC; dropped")
            break
        code = septets[i + 1]
        if code == ESC:
            out.append(" ")  # reserved for a further extension table: shown as space
        else:
            # Undefined extension codes show the default-alphabet char (TS 23.038 §6.2.1.1).
            out.append(_EXT_BY_CODE.get(code, GSM7_BASIC[code]))
        i += 2
    return "".join(out)


def pack_septets(septets: bytes, *, fill_bits: int = 0) -> bytes:
    """Pack septet values into octets, LSB first, after `fill_bits` zero bits."""
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0-6, got {fill_bits}")
    out = bytearray()
    acc = 0
    nbits = fill_bits
    for s in septets:
        if s > 0x7F:
            raise ValueError(f"septet value 0x{s:02X} exceeds 0x7F")
        acc |= s << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, *, fill_bits: int = 0) -> bytes:
    """Unpack `count` septets from packed octets whose first `fill_bits` bits are fill."""
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0-6, got {fill_bits}")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    needed = (fill_bits + 7 * count + 7) // 8
    if len(data) < needed:
        raise ValueError(
            f"{count} septets after {fill_bits} fill bits need {needed} octets, got {len(data)}"
        )
    value = int.from_bytes(data[:needed], "little") >> fill_bits
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))
