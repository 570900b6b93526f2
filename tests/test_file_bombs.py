"""Hostile contact files through `smsops contacts import`: one line, nothing imported, bounded."""

from __future__ import annotations

import functools
import logging
import random
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.files import (
    MAX_GROWTH,
    MB,
    Cli,
    Member,
    deflated,
    fixture_members,
    with_part,
    write_zip,
)

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"
#: Bound for any one refused file's wall time (memory: MAX_GROWTH).
MAX_SECONDS = 10.0


# --- building the files -----------------------------------------------------------------------


@functools.cache
def zeros(megabytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `megabytes` MiB of zeros (about 1 KiB per MiB), and its CRC."""
    chunk = bytes(MB)
    pack = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = pack.compress(chunk) + pack.flush(zlib.Z_FULL_FLUSH)
    again = pack.compress(chunk) + pack.flush(zlib.Z_FULL_FLUSH)  # the same bytes every time
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return first + again * (megabytes - 1) + pack.flush(), crc


SHEET = "xl/worksheets/sheet1.xml"
DOCUMENT = "word/document.xml"
PARTS = {"students.xlsx": SHEET, "contacts.docx": DOCUMENT}


def zip_bomb(fixture: str, target: Path, *, lying: bool) -> None:
    """The fixture with its main part swapped for 2 GiB of zeros (declared as 1 KiB if lying)."""
    data, crc = zeros(2048)
    size = 1024 if lying else 2048 * MB
    write_zip(target, with_part(fixture, PARTS[fixture], Member(PARTS[fixture], data, crc, size)))


def many_parts(target: Path) -> None:
    """An .xlsx of 10 001 tiny parts (the guard's limit is 10 000)."""
    parts = fixture_members("students.xlsx")
    parts += [deflated(f"xl/media/p{i}.bin", b"x") for i in range(10_001 - len(parts))]
    write_zip(target, parts)


def _laughs() -> bytes:
    """A DTD of ten entity levels, each ten of the one below: 10^9 "lol"s once expanded."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return f"<!DOCTYPE lolz [{''.join(entities)}]>".encode()


def billion_laughs(fixture: str, target: Path) -> None:
    """The main part's XML behind a DTD whose entities expand to gigabytes."""
    with zipfile.ZipFile(FIXTURES / fixture) as archive:
        xml = archive.read(PARTS[fixture])
    body = xml.split(b"?>", 1)[1]
    tag_end = body.index(b">") + 1
    poisoned = b'<?xml version="1.0"?>' + _laughs() + body[:tag_end] + b"&lol9;" + body[tag_end:]
    write_zip(target, with_part(fixture, PARTS[fixture], deflated(PARTS[fixture], poisoned)))


def cut(fixture: str, fraction: float) -> Callable[[Path], None]:
    def make(target: Path) -> None:
        data = (FIXTURES / fixture).read_bytes()
        target.write_bytes(data[: int(len(data) * fraction)])

    return make


def flipped(fixture: str) -> Callable[[Path], None]:
    """The directory intact, the main part's compressed bytes garbled: found only on reading."""

    def make(target: Path) -> None:
        members = fixture_members(fixture)
        main_part = next(m for m in members if m.name == PARTS[fixture])
        garbled = bytes(b ^ 0x5A for b in main_part.data)
        write_zip(
            target,
            with_part(
                fixture,
                PARTS[fixture],
                Member(main_part.name, garbled, main_part.crc, main_part.size),
            ),
        )

    return make


def junk(target: Path) -> None:
    target.write_bytes(random.Random(7).randbytes(256 * 1024))


def zip_junk(target: Path) -> None:
    target.write_bytes(b"PK\3\4" + random.Random(8).randbytes(64 * 1024))


def csv_long_line(target: Path) -> None:
    """Name,Phone and then 64 MiB without a line break."""
    with target.open("wb") as out:
        out.write(b"Name,Phone\nJane Wanjiru,0712345678\n")
        for _ in range(64):
            out.write(b"9" * MB)


def csv_wide(target: Path) -> None:
    """A header of two million columns."""
    target.write_bytes(b"Name,Phone," + b"x," * 2_000_000 + b"\nJane,0712345678\n")


def csv_many_fields(target: Path) -> None:
    """Rows of 1.9 million empty cells each, every line under the 2 MB line limit."""
    empties = b"," * 1_900_000
    rows = b"".join(b"Jane,07123450%02d%s\n" % (i, empties) for i in range(10))
    target.write_bytes(b"Name,Phone" + empties + b"\n" + rows)


def csv_open_quote(target: Path) -> None:
    """A quoted field that never closes, over 64 MiB of lines."""
    with target.open("wb") as out:
        out.write(b'Name,Phone\nJane Wanjiru,0712345678\nBrian,"')
        for _ in range(64):
            out.write(b"0712345678\n" * (MB // 11))


# --- the runs ---------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, capsys)


CASES: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("xlsx cut at 10%", "cut.xlsx", cut("students.xlsx", 0.1), "not a valid Excel file"),
    ("xlsx cut at 60%", "cut.xlsx", cut("students.xlsx", 0.6), "not a valid Excel file"),
    ("xlsx without its last byte", "cut.xlsx", cut("students.xlsx", 0.9999), "not a valid Excel"),
    ("docx cut at 10%", "cut.docx", cut("contacts.docx", 0.1), "not a valid Word file"),
    ("docx cut at 60%", "cut.docx", cut("contacts.docx", 0.6), "not a valid Word file"),
    ("docx without its last byte", "cut.docx", cut("contacts.docx", 0.9999), "not a valid Word"),
    ("xlsx garbled inside", "garbled.xlsx", flipped("students.xlsx"), "not a valid Excel file"),
    ("docx garbled inside", "garbled.docx", flipped("contacts.docx"), "not a valid Word file"),
    ("junk named .csv", "junk.csv", junk, "cannot decode text"),
    ("junk named .xlsx", "junk.xlsx", junk, "not a valid Excel file"),
    ("junk named .docx", "junk.docx", junk, "not a valid Word file"),
    ("zip header then junk", "junk.xlsx", zip_junk, "not a valid Excel file"),
    (
        "zip bomb as xlsx",
        "bomb.xlsx",
        lambda p: zip_bomb("students.xlsx", p, lying=False),
        "zip bomb",
    ),
    (
        "zip bomb as docx",
        "bomb.docx",
        lambda p: zip_bomb("contacts.docx", p, lying=False),
        "zip bomb",
    ),
    (
        "lying zip bomb as xlsx",
        "liar.xlsx",
        lambda p: zip_bomb("students.xlsx", p, lying=True),
        "more than the 1024 bytes",
    ),
    (
        "lying zip bomb as docx",
        "liar.docx",
        lambda p: zip_bomb("contacts.docx", p, lying=True),
        "more than the 1024 bytes",
    ),
    ("10 001 parts", "parts.xlsx", many_parts, "10001 parts inside"),
    (
        "billion laughs in xlsx",
        "lol.xlsx",
        lambda p: billion_laughs("students.xlsx", p),
        "not a valid Excel file",
    ),
    (
        "billion laughs in docx",
        "lol.docx",
        lambda p: billion_laughs("contacts.docx", p),
        "not a valid Word file",
    ),
    ("CSV: a 64 MiB line", "long.csv", csv_long_line, "longer than"),
    ("CSV: two million columns", "wide.csv", csv_wide, "longer than"),
    ("CSV: 1.9 million cells a row", "cells.csv", csv_many_fields, "columns (limit 16384)"),
    ("CSV: a quote left open", "quote.csv", csv_open_quote, "longer than"),
]


@pytest.mark.parametrize(("case", "name", "make", "problem"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_refused_cleanly(
    cli: Cli, tmp_path: Path, case: str, name: str, make: Callable[[Path], None], problem: str
) -> None:
    path = tmp_path / name
    make(path)
    before = cli.state()
    run = cli.run("contacts", "import", str(path))
    assert run.code != 0
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.err, run.err[:2000]
    assert name in lines[0] and problem in lines[0], lines[0]
    assert cli.state() == before
    logger.info("%s: %.2f s, %+.0f MB: %s", case, run.seconds, run.growth / MB, lines[0])
    assert run.seconds < MAX_SECONDS, f"{case}: {run.seconds:.1f} s"
    assert run.growth < MAX_GROWTH, f"{case}: {run.growth / MB:.0f} MB more resident memory"
