"""Hostile contact files through `smsops contacts import`: one line, nothing imported, bounded."""

from __future__ import annotations

import functools
import logging
import random
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from handlers.entry import main
from tests.support.base import CONTACTS_CSV, write_config
from tests.support.db import DbFile

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"
MB = 1024 * 1024
#: Bounds for any one refused file: extra resident memory and wall time.
MAX_GROWTH = 200 * MB
MAX_SECONDS = 10.0


# --- building the files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A zip member as raw deflate bytes, with the sizes and CRC its headers will declare."""

    name: str
    data: bytes
    crc: int
    size: int


def deflated(name: str, content: bytes) -> Member:
    """An honest member."""
    pack = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Member(name, pack.compress(content) + pack.flush(), zlib.crc32(content), len(content))


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


def write_zip(path: Path, members: list[Member]) -> None:
    """Write the local headers, data and central directory exactly as the members declare."""
    body, directory = b"", b""
    for m in members:
        name = m.name.encode()
        sizes = (m.crc, len(m.data), m.size, len(name), 0)  # crc, packed, unpacked, name, extra
        local = struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 8, 0, 33, *sizes)
        central = struct.pack(
            "<4s6H3L5H2L", b"PK\1\2", 20, 20, 0, 8, 0, 33, *sizes, 0, 0, 0, 0, len(body)
        )
        directory += central + name
        body += local + name + m.data
    count = len(members)
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, count, count, len(directory), len(body), 0)
    path.write_bytes(body + directory + end)


def fixture_members(name: str) -> list[Member]:
    """The members of a real fixture, re-deflated."""
    with zipfile.ZipFile(FIXTURES / name) as archive:
        return [deflated(i.filename, archive.read(i)) for i in archive.infolist()]


def with_part(fixture: str, part: str, member: Member) -> list[Member]:
    """A real fixture's members with one part replaced."""
    return [member if m.name == part else m for m in fixture_members(fixture)]


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


class PeakRss:
    """Samples this process's resident memory every few milliseconds; the growth over the start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self._process.memory_info().rss
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


@dataclass
class Run:
    code: int
    err: str
    seconds: float
    growth: int


class Cli:
    """The real CLI in-process on one config, with five contacts already imported."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        self.config = write_config(tmp_path)
        self.db = tmp_path / "test.db"
        self.capsys = capsys
        seed = tmp_path / "seed.csv"
        seed.write_text(CONTACTS_CSV, encoding="utf-8")
        assert self.run("contacts", "import", str(seed)).code == 0

    def run(self, *args: str) -> Run:
        self.capsys.readouterr()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level  # the CLI sets up logging its own way
        started = time.monotonic()
        try:
            with PeakRss() as rss:
                code = main(["--config", str(self.config), *args])
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        seconds = time.monotonic() - started
        return Run(code, self.capsys.readouterr().err, seconds, rss.growth)

    def state(self) -> list[list[tuple[object, ...]]]:
        """Contacts, groups, memberships and the audit log, read without writing."""
        tables = ("contacts", "groups", "memberships", "audit_log")
        return DbFile(self.db, read_only=True).tables(tables)


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
