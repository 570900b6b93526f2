"""Contact-file helpers: zip archives built member by member, a CLI run and its peak memory."""

from __future__ import annotations

import logging
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from handlers.entry import main
from tests.support.base import CONTACTS_CSV, write_config
from tests.support.db import DbFile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "contacts"
MB = 1024 * 1024
#: Bound for any one refused file: extra resident memory.
MAX_GROWTH = 200 * MB


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
