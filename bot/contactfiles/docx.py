"""Word documents (.docx): tables with a phone column, plus phone numbers in plain paragraphs."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

from docx import Document
from docx.table import Table

from bot.contactfiles.model import ContactFileError
from bot.contactfiles.textscan import Block, BlockSource, has_phone_text
from bot.contactfiles.zipguard import check_zip

logger = logging.getLogger(__name__)

NO_PHONES = "no phone numbers found (no table with a phone column and no phone-like text)"


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
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.append([[cell.text for cell in row.cells] for row in item.rows])
            else:
                blocks.append(item.text)
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
