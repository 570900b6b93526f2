"""Open a contact file by its suffix, checking up front what can be checked before any row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.contacts.files.csvfile import CsvSource
from bot.contacts.files.docx import open_docx
from bot.contacts.files.legacy import open_doc
from bot.contacts.files.model import ContactFileError, ContactRow, ContactSource
from bot.contacts.files.xlsx import XlsxSource

SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".docx": "docx",
    ".doc": "doc",
}
_EXPECTED = ".csv, .txt, .xlsx, .xlsm, .docx or .doc"


def _check_file(path: Path) -> None:
    try:
        if path.is_dir():
            raise ContactFileError(path, "is a directory, not a file")
        if not path.exists():
            raise ContactFileError(path, "no such file")
        if not path.is_file():
            raise ContactFileError(path, "is not a regular file")
        if path.stat().st_size == 0:
            raise ContactFileError(path, "file is empty")
    except PermissionError as exc:
        raise ContactFileError(path, "permission denied") from exc


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def open_contacts(path: Path, *, sheet: str | None = None) -> ContactSource:
    """Open and validate a contact file; iterate the result to stream its rows, then close it."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    kind = SUFFIXES.get(suffix)
    if kind is None:
        shown = f"'{suffix}'" if suffix else "no suffix"
        raise ContactFileError(path, f"unsupported file type ({shown}; expected {_EXPECTED})")
    if sheet is not None and kind != "xlsx":
        raise ContactFileError(path, "--sheet only applies to Excel workbooks (.xlsx, .xlsm)")
    try:
        if kind == "csv":
            return CsvSource(path)
        if kind == "xlsx":
            return XlsxSource(path, sheet=sheet)
        if kind == "docx" or _is_zip(path):
            return open_docx(path)
        return open_doc(path)
    except PermissionError as exc:
        raise ContactFileError(path, "permission denied") from exc
    except IsADirectoryError as exc:
        raise ContactFileError(path, "is a directory, not a file") from exc
    except FileNotFoundError as exc:
        raise ContactFileError(path, "no such file") from exc


def read_contacts(path: Path, *, sheet: str | None = None) -> Iterator[ContactRow]:
    """Stream the contacts of a .csv/.txt, .xlsx/.xlsm, .docx or .doc file, in file order."""
    with open_contacts(path, sheet=sheet) as source:
        yield from source
