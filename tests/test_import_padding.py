"""Sheets that claim or hold far-away cells: imported in bounded time and memory, real rows kept.

openpyxl pads every row to a sheet's declared dimension and every gap up to a far-away row, so
one stray cell (XFD1048576 formatted, or a value there) once made an import of a 50-row sheet
run for hours. The workbooks are written here as zips of XML, like tests/test_file_bombs.py.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from xml.sax.saxutils import escape

import pytest

from bot.contacts.files import read_contacts
from bot.contacts.files.model import MAX_ROWS
from tests.support.files import MAX_GROWTH, MB, Cli, Run, deflated, with_part, write_zip

logger = logging.getLogger(__name__)

#: In-process bound on one import (it took minutes to hours before the fix).
MAX_SECONDS = 10.0
#: Past this the run is stopped outright, so a regression fails instead of hanging the suite.
WATCHDOG_SECONDS = 90

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{RELS_NS}"><Relationship Id="rId1" Type="{DOC_REL}/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook {NS} xmlns:r="{DOC_REL}"><sheets>'
        '<sheet name="Parents" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{RELS_NS}"><Relationship Id="rId1" Type="{DOC_REL}/worksheet" '
        'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{DOC_REL}/styles" '
        'Target="styles.xml"/></Relationships>'.replace("{DOC_REL}", DOC_REL)
    ),
    "xl/styles.xml": (
        f'<styleSheet {NS}><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
        '</fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
        '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
        '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" '
        'fontId="0" fillId="1" borderId="0" xfId="0" applyFill="1"/></cellXfs><cellStyles '
        'count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    ),
}
REAL_ROWS = 3000
HEADER = ("Name", "Phone", "Club")


def cell(ref: str, value: str | None) -> str:
    """An inline-string cell, or a formatted empty one when value is None."""
    if value is None:
        return f'<c r="{ref}" s="1"/>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def row(number: int, cells: dict[str, str | None]) -> str:
    inner = "".join(cell(f"{column}{number}", value) for column, value in cells.items())
    return f'<row r="{number}">{inner}</row>'


def parent(number: int) -> str:
    """The data row at sheet row `number`, with a phone no other row has."""
    return row(number, {"A": f"Parent {number}", "B": f"07120{number:05d}", "C": "ICT"})


def real_rows(count: int = REAL_ROWS) -> str:
    """The header and `count` parents in rows 2.. ."""
    head = row(1, dict(zip("ABC", HEADER, strict=True)))
    return head + "".join(parent(n) for n in range(2, count + 2))


def write_xlsx(path: Path, rows_xml: str, *, dimension: str | None = None) -> None:
    """A one-sheet workbook whose sheet XML is exactly `rows_xml` under an optional dimension."""
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = f"<worksheet {NS}>{declared}<sheetData>{rows_xml}</sheetData></worksheet>"
    parts = {**PARTS, "xl/worksheets/sheet1.xml": sheet}
    header = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    write_zip(path, [deflated(name, (header + xml).encode()) for name, xml in parts.items()])


class TookTooLong(BaseException):
    """Raised by the watchdog; a BaseException so the CLI does not turn it into one line."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Interrupt the code inside after `seconds` of wall time."""

    def fire(signum: int, frame: FrameType | None) -> None:
        raise TookTooLong(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def import_file(cli: Cli, path: Path) -> Run:
    with watchdog(WATCHDOG_SECONDS):
        run = cli.run("contacts", "import", str(path))
    logger.info("%s: %.2f s, %+.0f MB", path.name, run.seconds, run.growth / MB)
    assert run.seconds < MAX_SECONDS, f"{path.name}: {run.seconds:.1f} s"
    assert run.growth < MAX_GROWTH, f"{path.name}: {run.growth / MB:.0f} MB more resident memory"
    return run


def names(cli: Cli) -> dict[str, str]:
    """phone -> name of every stored contact."""
    return {str(phone): str(name) for _, phone, name, *_ in cli.state()[0]}


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, capsys)


FAR = "XFD1048576"
CASES: dict[str, tuple[str | None, str]] = {
    "declared A1:XFD1048576": ("A1:XFD1048576", ""),
    "formatted cell at XFD1048576": (None, row(1048576, {"XFD": None})),
    "value at XFD1048576": (None, row(1048576, {"XFD": "x"})),
    "declared and formatted far cell": ("A1:XFD1048576", row(1048576, {"XFD": None})),
    "declared and a value far down column A": ("A1:XFD1048576", row(1048576, {"A": "x"})),
    "whole rows formatted to XFD": (
        "A1:XFD1048576",
        "".join(row(n, {"XFD": None}) for n in range(REAL_ROWS + 2, REAL_ROWS + 900)),
    ),
}


@pytest.mark.parametrize(("dimension", "tail"), CASES.values(), ids=CASES.keys())
def test_far_cells_do_not_pad_the_sheet(
    cli: Cli, tmp_path: Path, dimension: str | None, tail: str
) -> None:
    path = tmp_path / "parents.xlsx"
    write_xlsx(path, real_rows() + tail, dimension=dimension)
    before = len(names(cli))
    run = import_file(cli, path)
    assert run.code == 0, run.err
    stored = names(cli)
    assert len(stored) == before + REAL_ROWS
    assert stored["+254712000002"] == "Parent 2"
    assert stored[f"+2547120{REAL_ROWS + 1:05d}"] == f"Parent {REAL_ROWS + 1}"


def test_stray_header_cell_far_right(cli: Cli, tmp_path: Path) -> None:
    """A value at XFD1 beside the header is not a column to read 16 384 cells of in every row."""
    path = tmp_path / "parents.xlsx"
    header = row(1, {"A": "Name", "B": "Phone", "C": "Club", "XFD": "printed 2024-05-06"})
    rows = header + "".join(parent(n) for n in range(2, REAL_ROWS + 2))
    write_xlsx(path, rows, dimension="A1:XFD1048576")
    before = len(names(cli))
    assert import_file(cli, path).code == 0
    assert len(names(cli)) == before + REAL_ROWS


def test_rows_after_a_short_gap_are_read(cli: Cli, tmp_path: Path) -> None:
    """999 empty rows (one fewer than the run that ends a sheet) then more parents: all kept."""
    path = tmp_path / "gap.xlsx"
    later = range(REAL_ROWS + 1001, REAL_ROWS + 1011)
    write_xlsx(path, real_rows() + "".join(parent(n) for n in later), dimension="A1:C1048576")
    before = len(names(cli))
    assert import_file(cli, path).code == 0
    stored = names(cli)
    assert len(stored) == before + REAL_ROWS + len(later)
    assert stored[f"+2547120{later[-1]:05d}"] == f"Parent {later[-1]}"


def test_sheet_over_the_row_cap_is_refused(cli: Cli, tmp_path: Path) -> None:
    """Rows 999 apart past row 1 048 576: never a long empty run, so the row cap decides."""
    path = tmp_path / "long.xlsx"
    spaced = "".join(
        row(n, {"A": f"P{n}", "B": f"07{n % 100_000_000:08d}"})
        for n in range(REAL_ROWS + 2, MAX_ROWS + 2000, 999)
    )
    write_xlsx(path, real_rows() + spaced)
    before = cli.state()
    run = import_file(cli, path)
    assert run.code != 0
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.err, run.err[:2000]
    assert lines[0] == (
        f"smsops: long.xlsx: sheet Parents: more than {MAX_ROWS:,} rows (the most a sheet "
        "holds); split it"
    )
    assert cli.state() == before


# --- Word tables ------------------------------------------------------------------------------

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def tc(text: str = "", props: str = "") -> str:
    run = f"<w:r><w:t>{escape(text)}</w:t></w:r>" if text else ""
    return f"<w:tc>{f'<w:tcPr>{props}</w:tcPr>' if props else ''}<w:p>{run}</w:p></w:tc>"


def tr(*cells: str) -> str:
    return f"<w:tr>{''.join(cells)}</w:tr>"


def write_docx(path: Path, rows_xml: str) -> None:
    """contacts.docx with its body replaced by one table of `rows_xml`."""
    body = (
        "<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/><w:gridCol/></w:tblGrid>"
        f"{tr(tc('Club'), tc('Name'), tc('Phone'))}{rows_xml}</w:tbl><w:p/>"
    )
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document {W_NS}><w:body>{body}</w:body>'
    document = deflated("word/document.xml", (xml + "</w:document>").encode())
    write_zip(path, with_part("contacts.docx", "word/document.xml", document))


def word_parent(number: int, club: str) -> str:
    return tr(club, tc(f"Parent {number}"), tc(f"07120{number:05d}"))


def test_word_long_vertical_merge(cli: Cli, tmp_path: Path) -> None:
    """A club cell merged down 3000 rows: every row is in the club, and reading is linear.

    python-docx's row.cells walks up the merge for every row: quadratic, and past ~1000 rows
    "maximum recursion depth exceeded".
    """
    path = tmp_path / "merged.docx"
    merged = [tc("Robotics", '<w:vMerge w:val="restart"/>')] + [tc("", "<w:vMerge/>")] * 2999
    write_docx(path, "".join(word_parent(n, club) for n, club in enumerate(merged, start=2)))
    before = len(names(cli))
    assert import_file(cli, path).code == 0
    assert len(names(cli)) == before + 3000
    _, groups, memberships, _ = cli.state()
    robotics = next(g[0] for g in groups if g[1] == "club:robotics")
    assert sum(1 for m in memberships if m[1] == robotics) == 3000


def test_word_huge_span(cli: Cli, tmp_path: Path) -> None:
    """Cells claiming to span 100 000 columns are cut to the widest a Word table can be."""
    path = tmp_path / "wide.docx"
    wide = tc("x", '<w:gridSpan w:val="100000"/>')
    rows = "".join(
        word_parent(n, tc("ICT"))[: -len("</w:tr>")] + wide + "</w:tr>" for n in range(2, 202)
    )
    write_docx(path, rows)
    before = len(names(cli))
    assert import_file(cli, path).code == 0
    assert len(names(cli)) == before + 200


def test_word_empty_rows_are_cheap(cli: Cli, tmp_path: Path) -> None:
    """300 000 empty rows between two parents: both kept (no stop after a run of empty rows)."""
    path = tmp_path / "empty.docx"
    rows = word_parent(2, tc("ICT")) + "<w:tr/>" * 300_000 + word_parent(3, tc("ICT"))
    write_docx(path, rows)
    before = len(names(cli))
    assert import_file(cli, path).code == 0
    assert len(names(cli)) == before + 2


def test_word_table_over_the_row_cap_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "long.docx"
    write_docx(path, word_parent(2, tc("ICT")) + "<w:tr/>" * MAX_ROWS)
    before = cli.state()
    run = import_file(cli, path)
    assert run.code != 0
    lines = run.err.strip().splitlines()
    assert lines == [
        f"smsops: long.docx: table 1: more than {MAX_ROWS:,} rows (the most a table may hold)"
    ]
    assert cli.state() == before


def test_word_row_starting_late_stays_under_its_headers(tmp_path: Path) -> None:
    """A row whose first grid column is left out (w:gridBefore) is not shifted left."""
    path = tmp_path / "late.docx"
    late = f'<w:tr><w:trPr><w:gridBefore w:val="1"/></w:trPr>{tc("Jane")}{tc("0712000777")}</w:tr>'
    write_docx(path, late)
    [row] = read_contacts(path)
    assert (row.name, row.phones, row.groups) == ("Jane", ("0712000777",), ())
