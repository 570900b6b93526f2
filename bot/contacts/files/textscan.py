"""Phone numbers in free text, and a source over document blocks (paragraphs and tables)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.contacts.files.columns import locate_header
from bot.contacts.files.model import ContactRow, ContactSource

#: A document block: a paragraph's text, or a table as rows of cell texts.
Block = str | list[list[str]]

_CANDIDATE = re.compile(r"[+(]*\d[\d()\-\u2010\u2011 \t\u00a0]*\d\)?")
_GROUP = re.compile(r"\S+")
_LABELS = {"tel", "telephone", "phone", "mobile", "mob", "cell", "contact", "contacts", "no"}
_LABELS |= {"number", "whatsapp", "call", "on", "at", "or", "and"}
_EDGE = " \t\u00a0-–—:,;|/()•*.#=>"
_MAX_NAME_WORDS = 6
_MAX_NAME_CHARS = 60


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _starts_new(group: str, cur_digits: int) -> bool:
    digits = _digits(group)
    if group.startswith("+") or cur_digits + digits > 15:
        return True
    if group.startswith("0") and digits >= 9:
        return True
    return cur_digits >= 9 and (group[0] in "0(" or digits >= 9)


def find_phones(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of phone-number-looking runs (9-15 digits) in text."""
    spans: list[tuple[int, int]] = []
    for match in _CANDIDATE.finditer(text):
        start: int | None = None
        end = 0
        for group in _GROUP.finditer(match.group()):
            if start is not None and _starts_new(group.group(), _digits(text[start:end])):
                spans.append((start, end))
                start = None
            if start is None:
                start = match.start() + group.start()
            end = match.start() + group.end()
        if start is not None:
            spans.append((start, end))
    return [(s, e) for s, e in spans if 9 <= _digits(text[s:e]) <= 15]


def clean_name(text: str) -> str:
    """Return what is left of a text around a number as a name; "" when it reads like prose."""
    words = text.strip(_EDGE).split()
    while words and words[-1].strip(_EDGE).casefold() in _LABELS:
        words.pop()
    while words and words[0].strip(_EDGE).casefold() in _LABELS:
        words.pop(0)
    name = " ".join(words).strip(_EDGE)
    if len(name.split()) > _MAX_NAME_WORDS or len(name) > _MAX_NAME_CHARS:
        return ""
    return name


def text_rows(text: str, *, row: int, where: str) -> list[ContactRow]:
    """Return one ContactRow per phone number in a paragraph, named by the text around it."""
    spans = find_phones(text)
    extras = {"text": text.strip()}
    if len(spans) == 1:
        start, end = spans[0]
        name = clean_name(f"{text[:start]} {text[end:]}")
        return [
            ContactRow(row=row, where=where, name=name, phones=(text[start:end],), extras=extras)
        ]
    rows: list[ContactRow] = []
    previous_end, name = 0, ""
    for start, end in spans:
        name = clean_name(text[previous_end:start]) or name
        previous_end = end
        phone = (text[start:end],)
        rows.append(ContactRow(row=row, where=where, name=name, phones=phone, extras=dict(extras)))
    return rows


def loose_row(cells: Sequence[str], *, row: int, where: str) -> ContactRow | None:
    """Return a contact from a header-less table row: phones from any cell, name from the first."""
    phones: list[str] = []
    name = ""
    extras: dict[str, str] = {}
    for index, cell in enumerate(cells, start=1):
        value = cell.strip()
        spans = find_phones(value)
        phones.extend(value[s:e] for s, e in spans)
        if not spans and value and not name:
            name = value
        elif value:
            extras[f"column_{index}"] = value
    if not phones:
        return None
    return ContactRow(
        row=row, where=where, name=name, phones=tuple(dict.fromkeys(phones)), extras=extras
    )


def table_rows(table: list[list[str]], *, number: int) -> Iterator[ContactRow]:
    """Yield the contacts of one table: by its header if it has a phone column, else loosely."""
    located = locate_header(table)
    for index, cells in enumerate(table, start=1):
        if not cells:
            continue
        where = f"table {number} row {index}"
        if located is None:
            contact = loose_row(cells, row=index, where=where)
        elif index > located[0]:
            contact = located[1].build(cells, row=index, where=where)
        else:
            continue
        if contact is not None:
            yield contact


def has_phone_text(blocks: Sequence[Block]) -> bool:
    """Whether any block holds a phone column or phone-number-looking text."""
    for block in blocks:
        if isinstance(block, str):
            if find_phones(block):
                return True
        elif locate_header(block) or any(find_phones(c) for cells in block for c in cells):
            return True
    return False


class BlockSource(ContactSource):
    """A document already read into paragraphs and tables, yielding contacts in document order."""

    unit = "blocks"

    def __init__(self, path: Path, blocks: list[Block]) -> None:
        super().__init__(path, total_hint=len(blocks))
        self._blocks = blocks
        self._done = 0

    def progress(self) -> int:
        """Return how many blocks have been read."""
        return self._done

    def __iter__(self) -> Iterator[ContactRow]:
        paragraph = table = 0
        for block in self._blocks:
            if isinstance(block, str):
                paragraph += 1
                where = f"paragraph {paragraph}"
                yield from text_rows(block, row=paragraph, where=where)
            else:
                table += 1
                yield from table_rows(block, number=table)
            self._done += 1
