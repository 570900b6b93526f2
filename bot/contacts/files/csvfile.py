"""CSV and text files: encoding and delimiter sniffed from a sample, rows streamed."""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Iterator
from pathlib import Path

from bot.contacts.files.columns import (
    HEADER_SEARCH_ROWS,
    first_nonblank,
    locate_header,
    no_phone_column,
)
from bot.contacts.files.model import ContactFileError, ContactRow, ContactSource

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024
SNIFF_CHARS = 16 * 1024
#: Longest field the csv module may build; also the unit of the line and record limits below.
FIELD_LIMIT = 1024 * 1024
LINE_LIMIT = 2 * FIELD_LIMIT
RECORD_LIMIT = 4 * FIELD_LIMIT
COLUMN_LIMIT = 16_384  # as many as a spreadsheet holds; each row is split into this many cells
DELIMITERS = ",;\t|"
CANNOT_DECODE = "cannot decode text (tried UTF-8, UTF-16, Latin-1)"
_FALLBACK = "smsops-latin1-fallback"
_MAGIC = {
    b"PK\x03\x04": "a zip archive (an .xlsx or .docx with the wrong name?)",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Office file (.xls or .doc)",
}


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return bytes(exc.object[exc.start : exc.end]).decode("latin-1"), exc.end


codecs.register_error(_FALLBACK, _latin1_fallback)


def _utf16_without_bom(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if len(sample) < 4:
        return None
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def sniff_encoding(sample: bytes, path: Path) -> str:
    """Return the codec name for a file from its first bytes, or raise if it is not text."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _decodes(sample, "utf-16"):
            return "utf-16"
        raise ContactFileError(path, CANNOT_DECODE)
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            raise ContactFileError(path, f"{CANNOT_DECODE}; it is {what}, not a CSV")
    if b"\x00" in sample:
        encoding = _utf16_without_bom(sample)
        if encoding and _decodes(sample, encoding):
            return encoding
        raise ContactFileError(path, f"{CANNOT_DECODE}; it looks like binary data, not a CSV")
    for encoding in ("utf-8", "cp1252"):
        if _decodes(sample, encoding):
            return encoding
    return "latin-1"


def _looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\x7f")
    return controls > max(2, len(text) // 50)


def sniff_delimiter(text: str) -> str:
    """Return the most likely delimiter among , ; tab | in a text sample (comma if unsure)."""
    sample = text[:SNIFF_CHARS]
    if "\n" in sample.rstrip("\r\n"):
        sample = sample[: sample.rstrip("\r\n").rfind("\n") + 1]
    first_line = sample.splitlines()[0] if sample else ""
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if delimiter and delimiter in first_line:
        return delimiter
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvSource(ContactSource):
    """A CSV or text file opened and checked; iterating streams its rows."""

    unit = "bytes"

    def __init__(self, path: Path) -> None:
        super().__init__(path, total_hint=path.stat().st_size)
        if csv.field_size_limit() < FIELD_LIMIT:
            csv.field_size_limit(FIELD_LIMIT)
        self._raw = path.open("rb")
        self._record_chars = 0
        self._rows_read = 0
        try:
            self._open()
        except BaseException:
            self._raw.close()
            raise

    def _open(self) -> None:
        sample = self._raw.read(SAMPLE_BYTES)
        self.encoding = sniff_encoding(sample, self.path)
        # Stray bytes in an 8-bit file are read as Latin-1; UTF-16 must decode cleanly.
        errors = "strict" if self.encoding.startswith("utf-16") else _FALLBACK
        decoder = codecs.getincrementaldecoder(self.encoding)(errors=errors)
        text = decoder.decode(sample, final=False)
        if _looks_binary(text):
            raise self.error(f"{CANNOT_DECODE}; it looks like binary data, not a CSV")
        self._raw.seek(0)
        self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, errors=errors, newline="")
        if text.startswith("sep=") and text[5:6] in ("\r", "\n"):
            self.delimiter = text[4]
            self._text.readline()
        else:
            self.delimiter = sniff_delimiter(text)
        logger.debug("%s: encoding %s, delimiter %r", self.path, self.encoding, self.delimiter)
        self._reader = csv.reader(self._lines(), delimiter=self.delimiter)
        self._head: list[list[str]] = []
        located = None
        while located is None and len(self._head) < HEADER_SEARCH_ROWS:
            cells = self._next_record()
            if cells is None:
                break
            self._head.append(cells)
            located = locate_header(self._head)
        if located is None:
            if not any(any(c.strip() for c in cells) for cells in self._head):
                raise self.error("file has no rows (only blank lines)")
            raise self.error(no_phone_column(first_nonblank(self._head)))
        self._start, self._map = located

    def _lines(self) -> Iterator[str]:
        while True:
            try:
                line = self._text.readline(LINE_LIMIT + 1)
            except UnicodeDecodeError as exc:
                raise self.error(CANNOT_DECODE, where=f"row {self._rows_read + 1}") from exc
            if not line:
                return
            if len(line) > LINE_LIMIT:
                raise self.error(
                    f"a line longer than {LINE_LIMIT // (1024 * 1024)} MB; not a contact list?",
                    where=f"row {self._rows_read + 1}",
                )
            self._record_chars += len(line)
            if self._record_chars > RECORD_LIMIT:
                raise self.error(
                    f"a record longer than {RECORD_LIMIT // (1024 * 1024)} MB; not a contact list?",
                    where=f"row {self._rows_read + 1}",
                )
            yield line

    def _next_record(self) -> list[str] | None:
        try:
            cells = next(self._reader, None)
        except csv.Error as exc:
            problem = f"malformed CSV ({exc})"
            if "field limit" in str(exc):
                problem = (
                    f"a field longer than {FIELD_LIMIT // (1024 * 1024)} MB; not a contact list?"
                )
            raise self.error(problem, where=f"row {self._rows_read + 1}") from exc
        self._record_chars = 0
        if cells is not None:
            self._rows_read += 1
            if len(cells) > COLUMN_LIMIT:
                raise self.error(
                    f"a row of {len(cells)} columns (limit {COLUMN_LIMIT}); not a contact list?",
                    where=f"row {self._rows_read}",
                )
        return cells

    def progress(self) -> int:
        """Return how many bytes of the file have been read."""
        return self._raw.tell() if not self._raw.closed else self.total_hint or 0

    def close(self) -> None:
        """Close the file."""
        self._raw.close()
        super().close()

    def __iter__(self) -> Iterator[ContactRow]:
        for number, cells in enumerate(self._head[self._start :], start=self._start + 1):
            contact = self._map.build(cells, row=number)
            if contact is not None:
                yield contact
        self._head = []
        while (record := self._next_record()) is not None:
            contact = self._map.build(record, row=self._rows_read)
            if contact is not None:
                yield contact
