"""Excel workbooks (.xlsx, .xlsm): every sheet with a phone column, rows streamed."""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from bot.contacts.files.columns import (
    HEADER_SEARCH_ROWS,
    LOOKED_FOR,
    HeaderMap,
    first_nonblank,
    locate_header,
    no_phone_column,
    table_width,
)
from bot.contacts.files.model import MAX_ROWS, ContactFileError, ContactRow, ContactSource
from bot.contacts.files.zipguard import check_zip

logger = logging.getLogger(__name__)

#: Columns read past the header's last one; what they hold is kept as column_N extras.
COLUMN_MARGIN = 8
#: A sheet ends after this many empty rows in a row (beyond is formatting or a stray cell).
EMPTY_RUN = 1000

#: Errors openpyxl raises on a damaged workbook (XML errors are SyntaxError subclasses).
BROKEN_FILE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    InvalidFileException,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    EOFError,
    OSError,
)


def cell_text(value: Any) -> str:
    """Return a cell value as text: whole numbers without ".0" or exponent, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def sheet_values(
    ws: ReadOnlyWorksheet,
    *,
    min_row: int = 1,
    max_row: int | None = None,
    max_col: int | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Return an iterator over a read-only sheet's rows as tuples of cell values.

    Without max_col each row is as wide as its last cell; the sheet's declared dimension is
    ignored (see XlsxSource), so nothing is padded out to it.
    """
    rows: Iterator[tuple[Any, ...]] = ws.iter_rows(  # type: ignore[misc]
        min_row=min_row, max_row=max_row, max_col=max_col, values_only=True
    )
    return rows


def _broken(path: Path, exc: BaseException, *, where: str | None = None) -> ContactFileError:
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        reason = "corrupt zip"
    elif isinstance(exc, KeyError):
        reason = f"missing part {exc}"
    elif isinstance(exc, SyntaxError):
        reason = "damaged XML inside"
    else:
        reason = str(exc) or type(exc).__name__
    return ContactFileError(path, f"not a valid Excel file ({reason})", where=where)


class XlsxSource(ContactSource):
    """An Excel workbook opened read-only; iterating streams the rows of its contact sheets."""

    def __init__(self, path: Path, *, sheet: str | None = None) -> None:
        super().__init__(path, total_hint=None)
        check_zip(path, kind="Excel")
        try:
            self._book = load_workbook(path, read_only=True, data_only=True)
        except BROKEN_FILE_ERRORS as exc:
            raise _broken(path, exc) from exc
        self._sheets: list[tuple[ReadOnlyWorksheet, int, HeaderMap, int]] = []
        self._done = 0
        try:
            self._pick_sheets(path, sheet)
        except BROKEN_FILE_ERRORS as exc:
            self.close()
            raise _broken(path, exc) from exc
        except BaseException:
            self.close()
            raise
        total = sum(min(rows, MAX_ROWS) for *_, rows in self._sheets)
        self.total_hint = total or None

    def _pick_sheets(self, path: Path, wanted: str | None) -> None:
        sheets = [ws for ws in self._book.worksheets if isinstance(ws, ReadOnlyWorksheet)]
        names = [ws.title for ws in sheets]
        if wanted is not None:
            chosen = [ws for ws in sheets if ws.title == wanted] or [
                ws for ws in sheets if ws.title.strip().casefold() == wanted.strip().casefold()
            ]
            if not chosen:
                listed = ", ".join(names) or "none"
                raise ContactFileError(path, f"no sheet named {wanted!r} (sheets: {listed})")
            sheets = chosen
        found: list[str] = []
        for ws in sheets:
            # A sheet's <dimension> is only a claim (A1:XFD1048576 after a stray format); trusted,
            # openpyxl pads every row to its width. Kept as a progress hint, never for reading.
            declared = ws.max_row or 0
            ws.reset_dimensions()
            head: list[list[str]] = []
            for values in sheet_values(ws, max_row=HEADER_SEARCH_ROWS):
                cells = [cell_text(v) for v in values]
                head.append(cells[: table_width(cells)])
            located = locate_header(head)
            if located is None:
                cells = [c for c in first_nonblank(head) if c.strip()]
                found.append(f"sheet {ws.title}: {', '.join(cells) or 'nothing'}")
                logger.info("%s: sheet %r has no phone column; skipped", path, ws.title)
                if wanted is not None:
                    raise ContactFileError(path, no_phone_column(cells), where=f"sheet {ws.title}")
                continue
            start, header = located
            self._sheets.append((ws, start + 1, header, declared))
        if not self._sheets:
            if not found:
                raise ContactFileError(path, "workbook has no worksheets")
            raise ContactFileError(
                path,
                f"no phone column in any sheet (looked for {LOOKED_FOR}; found: "
                f"{'; '.join(found)})",
            )

    def progress(self) -> int:
        """Return how many sheet rows have been read."""
        return self._done

    def close(self) -> None:
        """Close the workbook and its zip file."""
        self._book.close()
        super().close()

    def __iter__(self) -> Iterator[ContactRow]:
        for ws, first_row, header, _ in self._sheets:
            yield from self._sheet_rows(ws, first_row, header)

    def _sheet_rows(
        self, ws: ReadOnlyWorksheet, first_row: int, header: HeaderMap
    ) -> Iterator[ContactRow]:
        """Rows of one sheet, as wide as its header plus a margin, until a long empty run."""
        rows = sheet_values(ws, min_row=first_row, max_col=len(header.roles) + COLUMN_MARGIN)
        number, empty = first_row - 1, 0
        while True:
            try:
                values = next(rows, None)
            except BROKEN_FILE_ERRORS as exc:
                where = f"sheet {ws.title} row {number + 1}"
                raise _broken(self.path, exc, where=where) from exc
            if values is None:
                return
            number += 1
            self._done += 1
            contact = None
            if any(v is not None for v in values):
                cells = [cell_text(v) for v in values]
                contact = header.build(cells, row=number, where=f"sheet {ws.title} row {number}")
            if contact is None:
                empty += 1
                if empty >= EMPTY_RUN:
                    logger.info("%s: sheet %r ends: %d empty rows", self.path, ws.title, empty)
                    return
                continue
            empty = 0
            if number > MAX_ROWS:
                raise self.error(
                    f"more than {MAX_ROWS:,} rows (the most a sheet holds); split it",
                    where=f"sheet {ws.title}",
                )
            yield contact
