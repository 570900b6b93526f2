"""Word documents (.docx): tables with a phone column, plus phone numbers in plain paragraphs."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.table import Table

from bot.contacts.files.model import MAX_ROWS, ContactFileError
from bot.contacts.files.textscan import Block, BlockSource, has_phone_text
from bot.contacts.files.zipguard import check_zip

logger = logging.getLogger(__name__)

NO_PHONES = "no phone numbers found (no table with a phone column and no phone-like text)"
#: Widest table row kept, in layout-grid columns (Word allows 63); spans are cut to fit.
MAX_COLUMNS = 64
_TR, _TC, _P, _R, _LINK = qn("w:tr"), qn("w:tc"), qn("w:p"), qn("w:r"), qn("w:hyperlink")
_TEXT, _BREAK, _BREAK_TYPE = qn("w:t"), qn("w:br"), qn("w:type")
#: What python-docx's run.text makes of a run's other inner elements.
_RUN_CHARS = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
_TR_PR, _GRID_BEFORE = qn("w:trPr"), qn("w:gridBefore")
_TC_PR, _GRID_SPAN, _V_MERGE = qn("w:tcPr"), qn("w:gridSpan"), qn("w:vMerge")
_VAL = qn("w:val")
_EMPTY_ROW: list[str] = []  # shared by every empty row, so a million of them cost little


def _count(props: Any, tag: str) -> int:
    """Return a property's w:val count such as gridSpan, 0 if absent (a bad value raises)."""
    found = None if props is None else props.find(tag)
    return 0 if found is None else int(found.get(_VAL, "1"))


def _continues_merge(props: Any) -> bool:
    """Whether a cell's properties say it continues the vertical merge of the cell above."""
    merge = None if props is None else props.find(_V_MERGE)
    return merge is not None and merge.get(_VAL, "continue") == "continue"


def _run_text(run: Any) -> str:
    parts = []
    for child in run:
        if child.tag == _TEXT:
            parts.append(child.text or "")
        elif child.tag == _BREAK:  # a line break; page and column breaks are no text
            parts.append("\n" if child.get(_BREAK_TYPE, "textWrapping") == "textWrapping" else "")
        else:
            parts.append(_RUN_CHARS.get(child.tag, ""))
    return "".join(parts)


def cell_text(tc: Any) -> str:
    """Return a w:tc's text exactly as python-docx's cell.text does, read straight from the XML."""
    paragraphs = []
    for p in tc.iterchildren(_P):
        runs = (r for child in p.iterchildren(_R, _LINK) for r in _runs(child))
        paragraphs.append("".join(map(_run_text, runs)))
    return "\n".join(paragraphs)


def _runs(child: Any) -> Any:
    return (child,) if child.tag == _R else child.iterchildren(_R)


def table_cells(table: Table, *, number: int, shown: Path) -> list[list[str]]:
    """Return a table's rows as cell texts, one per layout-grid column, spans repeated.

    Like python-docx's ``row.cells``, but a vertically merged cell takes the text of the cell
    above in one step (``row.cells`` walks up the merge for every row, so a long merge took
    quadratic time and then recursed too deep), a row never grows past MAX_COLUMNS however
    wide a span it claims, and empty rows cost next to nothing.
    """
    if table._tbl.xpath("count(./w:tr)") > MAX_ROWS:  # counted in C, before any row is read
        problem = f"more than {MAX_ROWS:,} rows (the most a table may hold)"
        raise ContactFileError(shown, problem, where=f"table {number}")
    rows: list[list[str]] = []
    above: list[str] = []
    for tr in table._tbl.iterchildren(_TR):
        tcs = list(tr.iterchildren(_TC))
        props = [tc.find(_TC_PR) for tc in tcs]
        if tr.find(f".//{_TEXT}") is None and not any(map(_continues_merge, props)):
            rows.append(_EMPTY_ROW)
            above = _EMPTY_ROW
            continue
        cells = [""] * min(max(_count(tr.find(_TR_PR), _GRID_BEFORE), 0), MAX_COLUMNS)
        for tc, tc_props in zip(tcs, props, strict=True):
            if len(cells) >= MAX_COLUMNS:
                break
            offset = len(cells)
            if _continues_merge(tc_props):
                text = above[offset] if offset < len(above) else ""
            else:
                text = cell_text(tc)
            span = min(max(_count(tc_props, _GRID_SPAN), 1), MAX_COLUMNS - offset)
            cells.extend([text] * span)
        above = cells
        rows.append(cells if any(cells) else _EMPTY_ROW)
    return rows


def _broken(shown: Path, exc: BaseException) -> ContactFileError:
    reason = "corrupt zip" if isinstance(exc, zipfile.BadZipFile) else str(exc).strip()
    reason = reason.splitlines()[0] if reason else type(exc).__name__
    return ContactFileError(shown, f"not a valid Word file ({reason})")


def read_blocks(path: Path, *, shown: Path | None = None) -> list[Block]:
    """Return a .docx file's body as paragraphs and tables, in document order."""
    shown = shown or path
    check_zip(path, kind="Word", shown=shown)
    try:
        document = Document(io.BytesIO(path.read_bytes()))
        blocks: list[Block] = []
        tables = 0
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                tables += 1
                blocks.append(table_cells(item, number=tables, shown=shown))
            else:
                blocks.append(item.text)
    except ContactFileError:
        raise
    except Exception as exc:  # python-docx raises many kinds on a damaged file
        logger.debug("%s: python-docx failed", shown, exc_info=True)
        raise _broken(shown, exc) from exc
    return blocks


def open_blocks(shown: Path, blocks: list[Block]) -> BlockSource:
    """Return a source over already-read blocks, or raise if they hold no phone numbers."""
    if not any(block.strip() if isinstance(block, str) else block for block in blocks):
        raise ContactFileError(shown, "document has no text")
    if not has_phone_text(blocks):
        raise ContactFileError(shown, NO_PHONES)
    return BlockSource(shown, blocks)


def open_docx(path: Path, *, shown: Path | None = None) -> BlockSource:
    """Open a .docx file as a contact source; errors name ``shown`` (default: path)."""
    shown = shown or path
    return open_blocks(shown, read_blocks(path, shown=shown))
