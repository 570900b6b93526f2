"""Contact-file readers: real exports and Office files in, raw rows out; bad files fail clearly."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook

from bot.contacts.files import ContactFileError, ContactRow, open_contacts, read_contacts
from bot.contacts.files.columns import (
    Role,
    classify,
    group_tag,
    snake_case,
    split_phones,
    table_width,
)
from bot.contacts.files.docx import table_cells
from bot.contacts.files.legacy import NO_TOOL, parse_antiword
from bot.contacts.files.textscan import find_phones, text_rows
from bot.contacts.files.xlsx import cell_text

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"

Summary = tuple[str, str, tuple[str, ...], tuple[str, ...]]


def summary(path: Path, *, sheet: str | None = None) -> list[Summary]:
    """Read a file and keep where, name, phones and groups of each row."""
    return [(r.where, r.name, r.phones, r.groups) for r in read_contacts(path, sheet=sheet)]


def rows_of(name: str) -> list[ContactRow]:
    return list(read_contacts(FIXTURES / name))


DOC_ROWS: list[Summary] = [
    ("table 1 row 2", "Jane Wanjiru", ("0712345678",), ("dept:computer-science",)),
    ("table 1 row 3", "Brian Otieno", ("+254 712 345 678",), ("dept:information-technology",)),
    ("table 1 row 4", "Faith Chebet", ("0712-345-678", "0733 444 555"), ("dept:computer-science",)),
    ("table 1 row 5", "Grace Njeri", ("0712",), ("dept:mathematics",)),
    ("paragraph 4", "Jane Wanjiru", ("0712 345 678",), ()),
    ("paragraph 5", "Dr. Samuel Ochieng", ("(0712) 345678",), ()),
    ("paragraph 6", "ICT Helpdesk", ("020 2222222",), ()),
    ("paragraph 6", "ICT Helpdesk", ("+44 20 7946 0958",), ()),
    ("table 2 row 1", "Lucy Wambui", ("254712345678",), ()),
    ("table 2 row 2", "Peter Kamau", ("712345678",), ()),
]

EXPECTED: dict[str, list[Summary]] = {
    "google_contacts.csv": [
        (
            "row 2",
            "Jane Wanjiru",
            ("0712 345 678", "+254 733 111 222", "020 2222222"),
            ("club:ict-club",),
        ),
        ("row 3", "Brian Otieno", ("+254712345678",), ("club:drama-club",)),
        ("row 4", "Kevin Mwangi", ("(0712) 345678",), ()),
        ("row 5", "Tom Baker", ("+44 20 7946 0958",), ("club:alumni-uk",)),
    ],
    "google_contacts_new.csv": [
        ("row 2", "Faith Chebet", ("0712-345-678", "0722 000 111"), ("club:ict-club",)),
        ("row 3", "Dennis Kip Kiprono", ("712345678", "+254 20 2222222"), ()),
    ],
    "outlook_contacts.csv": [
        ("row 2", "Mercy Akinyi", ("254712345678", "0712 345 678"), ("dept:ict-directorate",)),
        ("row 3", "Samuel Kip Ochieng", ("+254 20 2222222",), ()),
    ],
    "outlook_desktop.csv": [
        (
            "row 2",
            "Renée Achieng",
            ("+254 712 345678", "0733 444 555"),
            ("dept:computer-science", "club:ict-club", "club:drama-club"),
        ),
        ("row 3", "Peter Kamau", ("0712345678",), ()),
    ],
    "excel_unicode.txt": [
        ("row 2", "Zoë Nyambura", ("0712345678",), ("club:ict-club",)),
        ("row 3", "Ngũgĩ Kamau", ("+254 722 000 111",), ("club:writers-club",)),
    ],
    "latin1.csv": [
        ("row 2", "José Müller", ("0712345678",), ("club:ict-club",)),
        ("row 3", "Renée Achieng", ("+254 722 000 111",), ("club:drama-club",)),
        ("row 4", "André Kipchoge", ("0733-444-555",), ()),
    ],
    "semicolon.csv": [
        ("row 2", "Jane Wanjiru", ("0712 345 678",), ("dept:computer-science",)),
        ("row 3", "Otieno; Brian", ("0722-000-111",), ("dept:information-technology",)),
    ],
    "utf8_bom.csv": [
        ("row 2", "Jane Wanjiru", ("0712345678",), ("club:ict-club",)),
        ("row 3", "Brian Otieno", ("712345678",), ("club:drama-club",)),
        ("row 4", "Faith Chebet", ("254712345678",), ("dept:computer-science",)),
        ("row 5", "Kevin Mwangi", ("+254 712 345 678",), ("club:ict-club",)),
        ("row 6", "Mercy Akinyi", ("0712-345-678",), ()),
        ("row 7", "Dennis Kiprono", ("(0712) 345678",), ()),
        ("row 8", "Grace Njeri", ("0712",), ()),
        ("row 9", "ICT Helpdesk", ("020 2222222",), ()),
        ("row 10", "Tom Baker", ("+44 20 7946 0958",), ("club:alumni-uk",)),
        ("row 12", "Lucy Wambui", ("0722 111 222", "0733 444 555"), ()),
        ("row 13", "Peter Kamau", ("0711000111", "0722000111"), ()),
        ("row 14", "Ann Nobody", (), ("club:ict-club",)),
    ],
    "numbers.txt": [
        ("row 1", "", ("0712345678",), ()),
        ("row 2", "", ("+254 733 444 555",), ()),
        ("row 4", "", ("712345679",), ()),
    ],
    "students.xlsx": [
        (
            "sheet students row 2",
            "Jane Wanjiru",
            ("712345678",),
            ("club:ict-club", "dept:computer-science"),
        ),
        (
            "sheet students row 3",
            "Brian Otieno",
            ("712345678",),
            ("club:drama-club", "dept:information-technology"),
        ),
        (
            "sheet students row 4",
            "Faith Chebet",
            ("254712345678",),
            ("club:ict-club", "dept:computer-science"),
        ),
        (
            "sheet students row 5",
            "Kevin Mwangi",
            ("+254 712 345 678",),
            ("club:chess-club", "dept:mathematics"),
        ),
        ("sheet students row 6", "Mercy Akinyi", ("0712-345-678",), ("dept:computer-science",)),
        ("sheet students row 7", "Dennis Kiprono", ("(0712) 345678",), ("club:ict-club",)),
        ("sheet students row 8", "Grace Njeri", ("712",), ("club:drama-club", "dept:mathematics")),
        ("sheet students row 9", "ICT Helpdesk", ("020 2222222",), ("dept:ict-directorate",)),
        ("sheet students row 10", "Tom Baker", ("+44 20 7946 0958",), ("club:chess-club",)),
    ],
    "clubs.xlsx": [
        ("sheet ICT Club row 4", "Jane Wanjiru", ("712345678",), ("club:ict-club",)),
        ("sheet ICT Club row 5", "Brian Otieno", ("254712345678",), ("club:ict-club",)),
        ("sheet ICT Club row 6", "Kevin Mwangi", ("+254 712 345 678",), ("club:ict-club",)),
        ("sheet ICT Club row 7", "Mercy Akinyi", ("0712345678",), ("club:web-dev",)),
        ("sheet ICT Club row 9", "Dennis Kiprono", ("712345679",), ()),
        ("sheet Form1 row 2", "Faith Chebet", ("722000111",), ("dept:computer-science",)),
        ("sheet Form1 row 3", "Samuel Ochieng", ("0733 444 555",), ("dept:mathematics",)),
    ],
    "contacts.docx": DOC_ROWS,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_rows(name: str) -> None:
    assert summary(FIXTURES / name) == EXPECTED[name]


@pytest.mark.parametrize(
    ("name", "index", "field", "value"),
    [
        ("google_contacts.csv", 0, "first_name", "Jane"),
        ("google_contacts.csv", 0, "last_name", "Wanjiru"),
        ("google_contacts.csv", 0, "row", 2),
        ("google_contacts.csv", 2, "name", "Kevin Mwangi"),
        ("google_contacts_new.csv", 1, "first_name", "Dennis"),
        ("outlook_desktop.csv", 1, "row", 3),
        ("clubs.xlsx", 5, "first_name", "Faith"),
        ("clubs.xlsx", 5, "last_name", "Chebet"),
        ("contacts.docx", 4, "row", 4),
    ],
)
def test_row_fields(name: str, index: int, field: str, value: object) -> None:
    assert getattr(rows_of(name)[index], field) == value


@pytest.mark.parametrize(
    ("name", "index", "key", "value"),
    [
        ("google_contacts.csv", 0, "e_mail_1_value", "jane.wanjiru@students.example.ac.ke"),
        ("google_contacts.csv", 0, "phone_1_type", "Mobile"),
        ("google_contacts.csv", 0, "organization_1_name", "Example University"),
        ("outlook_contacts.csv", 0, "business_fax", "020 3333333"),
        ("outlook_contacts.csv", 1, "middle_name", "Kip"),
        ("outlook_desktop.csv", 1, "business_street", "University Way\r\nP.O. Box 30197"),
        ("semicolon.csv", 0, "admission_no", "SCT211-0001/2021"),
        ("semicolon.csv", 0, "address", "Nairobi, Kenya"),
        ("students.xlsx", 0, "admission_no", "SCT211-0001/2021"),
        ("clubs.xlsx", 5, "timestamp", "2024-03-12 09:15:00"),
        ("contacts.docx", 0, "no", "1"),
        ("contacts.docx", 4, "text", "Jane Wanjiru – 0712 345 678"),
    ],
)
def test_extras(name: str, index: int, key: str, value: str) -> None:
    assert rows_of(name)[index].extras[key] == value


def test_extras_leave_out_known_and_empty_columns() -> None:
    extras = rows_of("google_contacts.csv")[1].extras
    assert extras == {"additional_name": "Odhiambo", "phone_1_type": "Mobile"}


def test_xlsx_fixture_stores_numbers_as_numeric_cells() -> None:
    book = load_workbook(FIXTURES / "clubs.xlsx", read_only=True)
    try:
        values = [
            row[1] for row in book["ICT Club"].iter_rows(min_row=4, max_row=5, values_only=True)
        ]
    finally:
        book.close()
    assert values == [712345678, 254712345678]
    for contact in rows_of("clubs.xlsx") + rows_of("students.xlsx"):
        assert all("." not in p and "e" not in p.lower() for p in contact.phones)


@pytest.mark.parametrize(
    ("sheet", "wheres"),
    [
        ("Form1", ["sheet Form1 row 2", "sheet Form1 row 3"]),
        (" form1 ", ["sheet Form1 row 2", "sheet Form1 row 3"]),
        ("ICT Club", [s[0] for s in EXPECTED["clubs.xlsx"][:5]]),
    ],
)
def test_sheet_selection(sheet: str, wheres: list[str]) -> None:
    assert [s[0] for s in summary(FIXTURES / "clubs.xlsx", sheet=sheet)] == wheres


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (712345678, "712345678"),
        (712345678.0, "712345678"),
        (2.54712345678e11, "254712345678"),
        (3.5, "3.5"),
        (1e-7, "0.0000001"),
        (None, ""),
        (True, "TRUE"),
        (dt.datetime(2024, 3, 12), "2024-03-12"),
        (dt.datetime(2024, 3, 12, 9, 15), "2024-03-12 09:15:00"),
        (" Jane ", "Jane"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("Phone", Role.PHONE),
        ("PHONE NUMBER", Role.PHONE),
        ("Phone No.", Role.PHONE),
        ("Mobile", Role.PHONE),
        ("Mobile Phone", Role.PHONE),
        ("Primary Phone", Role.PHONE),
        ("Home Phone 2", Role.PHONE),
        ("Business Phone", Role.PHONE),
        ("msisdn", Role.PHONE),
        ("Tel.", Role.PHONE),
        ("Telephone", Role.PHONE),
        ("Cell", Role.PHONE),
        ("Contact No", Role.PHONE),
        ("Phone 1 - Value", Role.PHONE),
        ("Phone 12 - Value", Role.PHONE),
        ("Phone 1 - Type", Role.EXTRA),
        ("Phone 1 - Label", Role.EXTRA),
        ("Business Fax", Role.EXTRA),
        ("Pager", Role.EXTRA),
        ("No.", Role.EXTRA),
        ("Admission No", Role.EXTRA),
        ("E-mail Address", Role.EXTRA),
        ("Name", Role.NAME),
        (" Full Name ", Role.NAME),
        ("Display Name", Role.NAME),
        ("First Name", Role.FIRST),
        ("Given Name", Role.FIRST),
        ("firstname", Role.FIRST),
        ("Middle Name", Role.MIDDLE),
        ("Additional Name", Role.MIDDLE),
        ("Last Name", Role.LAST),
        ("Surname", Role.LAST),
        ("Family Name", Role.LAST),
        ("Group", Role.CLUB),
        ("Groups", Role.CLUB),
        ("Club", Role.CLUB),
        ("Group Membership", Role.CLUB),
        ("Labels", Role.CLUB),
        ("Department", Role.DEPT),
        ("Dept.", Role.DEPT),
    ],
)
def test_classify_header(header: str, role: Role) -> None:
    assert classify(header) is role


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Admission No", "admission_no"),
        ("E-mail 1 - Value", "e_mail_1_value"),
        ("  Manager's Name ", "manager_s_name"),
        ("Year of Study", "year_of_study"),
    ],
)
def test_snake_case(header: str, key: str) -> None:
    assert snake_case(header) == key


@pytest.mark.parametrize(
    ("cell", "phones"),
    [
        ("0712345678", ["0712345678"]),
        (" +254 712 345 678 ", ["+254 712 345 678"]),
        ("0712 345 678 ::: +254 733 111 222", ["0712 345 678", "+254 733 111 222"]),
        ("0722 111 222 / 0733 444 555", ["0722 111 222", "0733 444 555"]),
        ("0711000111;0722000111", ["0711000111", "0722000111"]),
        ("0711000111\n0722000111", ["0711000111", "0722000111"]),
        ("", []),
    ],
)
def test_split_phones(cell: str, phones: list[str]) -> None:
    assert split_phones(cell) == phones


@pytest.mark.parametrize(
    ("kind", "value", "tag"),
    [
        ("club", "ICT Club", "club:ict-club"),
        ("dept", "Computer  Science", "dept:computer-science"),
        ("dept", "dept:ICT", "dept:ict"),
        ("club", "Club: Web Dev", "club:web-dev"),
        ("club", "* myContacts", None),
        ("club", "* starred", None),
        ("club", "  ", None),
    ],
)
def test_group_tag(kind: str, value: str, tag: str | None) -> None:
    assert group_tag(kind, value) == tag


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Jane Wanjiru – 0712 345 678", ["0712 345 678"]),
        ("0712345678 0722345678", ["0712345678", "0722345678"]),
        ("0712 345 678 0722 345 678", ["0712 345 678", "0722 345 678"]),
        ("call +254 712 345 678.", ["+254 712 345 678"]),
        ("(0712) 345678", ["(0712) 345678"]),
        ("020 2222222 or +44 20 7946 0958", ["020 2222222", "+44 20 7946 0958"]),
        ("Meeting on 12.03.2024 in room 214", []),
        ("ID 12345678, admission SCT211-0001/2021", []),
        ("in 2024 0712345678", ["0712345678"]),
    ],
)
def test_find_phones(text: str, numbers: list[str]) -> None:
    assert [text[s:e] for s, e in find_phones(text)] == numbers


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Jane Wanjiru – 0712 345 678", ["Jane Wanjiru"]),
        ("Dr. Samuel Ochieng, Tel: (0712) 345678", ["Dr. Samuel Ochieng"]),
        ("0712345678 Brian Otieno", ["Brian Otieno"]),
        ("Lucy Wambui 0722 111 222 / 0733 444 555", ["Lucy Wambui", "Lucy Wambui"]),
        ("John 0712345678, Mary 0722345678", ["John", "Mary"]),
        ("For all enquiries please call the ICT helpdesk on 020 2222222", [""]),
    ],
)
def test_paragraph_names(text: str, names: list[str]) -> None:
    assert [r.name for r in text_rows(text, row=1, where="paragraph 1")] == names


def test_csv_progress_and_total_hint() -> None:
    path = FIXTURES / "utf8_bom.csv"
    with open_contacts(path) as source:
        assert source.unit == "bytes"
        assert source.total_hint == path.stat().st_size
        assert len(list(source)) == len(EXPECTED["utf8_bom.csv"])
        assert source.progress() == path.stat().st_size
    assert source.closed


def test_xlsx_total_hint_counts_rows() -> None:
    with open_contacts(FIXTURES / "clubs.xlsx") as source:
        assert source.total_hint == 9 + 3
        list(source)
        assert source.progress() == 6 + 2


def test_header_after_title_rows_and_sep_line(tmp_path: Path) -> None:
    titled = tmp_path / "titled.csv"
    titled.write_text("ICT Club register 2024\n\nName,Phone\nJane Wanjiru,0712345678\n")
    assert summary(titled) == [("row 4", "Jane Wanjiru", ("0712345678",), ())]
    sep = tmp_path / "sep.csv"
    sep.write_bytes(b"sep=;\r\nName;Phone;Town\r\nJane Wanjiru;0712345678;Nairobi, Kenya\r\n")
    assert summary(sep) == [("row 2", "Jane Wanjiru", ("0712345678",), ())]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "nobom.txt"
    path.write_bytes("Name\tMobile\r\nZoë Nyambura\t0712345678\r\n".encode(encoding))
    assert summary(path) == [("row 2", "Zoë Nyambura", ("0712345678",), ())]


def test_latin1_after_a_long_ascii_start(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    filler = "".join(f"Student {i},07{i:08d}\n" for i in range(5000))
    path.write_bytes(("Name,Phone\n" + filler + "José Müller,0712345678\n").encode("latin-1"))
    assert list(read_contacts(path))[-1].name == "José Müller"


def _zip_bomb(path: Path, megabytes: int, *, part: str = "xl/worksheets/sheet1.xml") -> None:
    zero = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(part, "w") as member:
            for _ in range(megabytes):
                member.write(zero)


def _xlsx_without_phones(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Staff"
    sheet.append(["Name", "Email"])
    sheet.append(["Jane Wanjiru", "jane@example.com"])
    book.save(path)


def _docx_without_phones(path: Path) -> None:
    document = Document()
    document.add_paragraph("Minutes of the ICT Club meeting held on 12.03.2024.")
    document.save(str(path))


Maker = Callable[[Path], Path]


def _fixture(name: str) -> Maker:
    return lambda tmp: FIXTURES / name


def _write(name: str, data: bytes) -> Maker:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return make


def _made(name: str, build: Callable[[Path], None]) -> Maker:
    def make(tmp: Path) -> Path:
        build(tmp / name)
        return tmp / name

    return make


def _directory(tmp: Path) -> Path:
    (tmp / "dir").mkdir()
    return tmp / "dir"


ERRORS: list[tuple[str, Maker, str]] = [
    ("missing", lambda tmp: tmp / "missing.csv", "missing.csv: no such file"),
    ("directory", _directory, "dir/: is a directory, not a file"),
    ("empty", _fixture("empty.csv"), "empty.csv: file is empty"),
    (
        "blank lines",
        _write("blank.csv", b"\n\n  \n"),
        "blank.csv: file has no rows (only blank lines)",
    ),
    (
        "no phone column",
        _fixture("no_phone.csv"),
        "no_phone.csv: no phone column (looked for phone, mobile, msisdn, tel, telephone, "
        "Phone 1 - Value; found: Name, Email)",
    ),
    (
        "binary junk",
        _fixture("binary.csv"),
        "binary.csv: cannot decode text (tried UTF-8, UTF-16, Latin-1); "
        "it looks like binary data, not a CSV",
    ),
    (
        "bad UTF-16",
        _write("bad16.txt", b"\xff\xfeN\x00a\x00\x00\xdc\x00\xdc"),
        "bad16.txt: cannot decode text (tried UTF-8, UTF-16, Latin-1)",
    ),
    (
        "xlsx renamed to csv",
        lambda tmp: _copy(FIXTURES / "students.xlsx", tmp / "students.csv"),
        "students.csv: cannot decode text (tried UTF-8, UTF-16, Latin-1); "
        "it is a zip archive (an .xlsx or .docx with the wrong name?), not a CSV",
    ),
    (
        "corrupt xlsx",
        _fixture("corrupt.xlsx"),
        "corrupt.xlsx: not a valid Excel file (corrupt zip)",
    ),
    ("corrupt docx", _fixture("corrupt.docx"), "corrupt.docx: not a valid Word file (corrupt zip)"),
    (
        "old binary Word file named .xlsx",
        lambda tmp: _copy(FIXTURES / "contacts.doc", tmp / "protected.xlsx"),
        "protected.xlsx: not a valid Excel file (it is password-protected or in the old binary "
        "format; save it again as .xlsx)",
    ),
    (
        "docx is a spreadsheet",
        lambda tmp: _copy(FIXTURES / "students.xlsx", tmp / "sheet.docx"),
        "sheet.docx: not a valid Word file",
    ),
    (
        "unknown suffix",
        _write("list.pdf", b"%PDF-1.4"),
        "list.pdf: unsupported file type ('.pdf'; expected .csv, .txt, .xlsx, .xlsm, .docx or "
        ".doc)",
    ),
    (
        "xlsx without phones",
        _made("staff.xlsx", _xlsx_without_phones),
        "staff.xlsx: no phone column in any sheet (looked for phone, mobile, msisdn, tel, "
        "telephone, Phone 1 - Value; found: sheet Staff: Name, Email)",
    ),
    (
        "docx without phones",
        _made("minutes.docx", _docx_without_phones),
        "minutes.docx: no phone numbers found (no table with a phone column and no "
        "phone-like text)",
    ),
    (
        "zip bomb",
        _made("bomb.xlsx", lambda p: _zip_bomb(p, 300)),
        "bomb.xlsx: refusing to open: it would unpack to 300 MB (limit 200 MB); possible zip bomb",
    ),
    (
        "zip bomb by ratio",
        _made("ratio.docx", lambda p: _zip_bomb(p, 20, part="word/document.xml")),
        "ratio.docx: refusing to open: part word/document.xml",
    ),
]


def _copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


@pytest.mark.parametrize(("case", "make", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_files_fail_before_the_first_row(
    tmp_path: Path, case: str, make: Maker, message: str
) -> None:
    path = make(tmp_path)
    rows = read_contacts(path)
    with pytest.raises(ContactFileError) as caught:
        next(rows)
    assert str(caught.value).startswith(message), str(caught.value)
    with pytest.raises(ContactFileError):
        open_contacts(path)


@pytest.mark.parametrize(
    ("name", "sheet", "message"),
    [
        (
            "clubs.xlsx",
            "Nope",
            "clubs.xlsx: no sheet named 'Nope' (sheets: ICT Club, Form1, Notes)",
        ),
        (
            "clubs.xlsx",
            "Notes",
            "clubs.xlsx: sheet Notes: no phone column (looked for phone, mobile, msisdn, tel, "
            "telephone, Phone 1 - Value; found: Note)",
        ),
        ("utf8_bom.csv", "Sheet1", "utf8_bom.csv: --sheet only applies to Excel workbooks"),
    ],
)
def test_sheet_errors(name: str, sheet: str, message: str) -> None:
    with pytest.raises(ContactFileError) as caught:
        next(read_contacts(FIXTURES / name, sheet=sheet))
    assert str(caught.value).startswith(message)


def test_truncated_utf16_fails_at_its_row(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes("Name\tPhone\r\nJane\t0712345678\r\n".encode("utf-16") + b"\x00")
    rows = read_contacts(path)
    assert next(rows).phones == ("0712345678",)
    with pytest.raises(ContactFileError, match=r"cut\.txt: row 3: cannot decode text"):
        next(rows)


@pytest.mark.parametrize("layout", ["one line", "many lines"])
def test_csv_bomb_fails_fast_in_bounded_memory(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "bomb.csv"
    piece = b"9" * (1024 * 1024) if layout == "one line" else (b"9" * 99 + b"\n") * 10_486
    with path.open("wb") as out:
        out.write(b'Name,Phone\nJane Wanjiru,0712345678\nBrian Otieno,"')
        for _ in range(50):
            out.write(piece)
        out.write(b'"\n')
    assert path.stat().st_size > 50 * 1024 * 1024
    rows = read_contacts(path)
    started = time.monotonic()
    tracemalloc.start()
    try:
        assert next(rows).name == "Jane Wanjiru"
        with pytest.raises(ContactFileError, match=r"bomb\.csv: row 3: a (field|line) longer than"):
            next(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_large_csv_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Name", "Phone", "Admission No", "Club"])
        for i in range(200_000):
            writer.writerow([f"Student {i}", f"07{i:08d}", f"SCT211-{i:05d}/2021", "ICT Club"])
    tracemalloc.start()
    try:
        count = 0
        where = ""
        for contact in read_contacts(path):
            count += 1
            where = contact.where
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert where == "row 200001"
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_parse_antiword_output() -> None:
    text = (
        "\n\nICT Club contact list\n\nPlease keep this list\nup to date.\n\n"
        "|No. |Name        |Phone Number   |\n|1   |Jane Wanjiru|0712345678     |\n\n"
        "Jane Wanjiru – 0712 345 678\n"
    )
    assert parse_antiword(text) == [
        "ICT Club contact list",
        "Please keep this list up to date.",
        [["No.", "Name", "Phone Number"], ["1", "Jane Wanjiru", "0712345678"]],
        "Jane Wanjiru – 0712 345 678",
    ]


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_legacy_doc_through_libreoffice() -> None:
    assert summary(FIXTURES / "contacts.doc") == DOC_ROWS


@pytest.mark.skipif(not shutil.which("antiword"), reason="antiword is not installed")
def test_legacy_doc_through_antiword(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    antiword = shutil.which("antiword")
    assert antiword is not None
    (tools / "antiword").symlink_to(antiword)
    monkeypatch.setenv("PATH", str(tools))
    assert summary(FIXTURES / "contacts.doc") == DOC_ROWS


def test_legacy_doc_without_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ContactFileError) as caught:
        next(read_contacts(FIXTURES / "contacts.doc"))
    assert str(caught.value) == f"contacts.doc: {NO_TOOL}"
    assert str(caught.value) == (
        "contacts.doc: legacy Word .doc needs LibreOffice (soffice) or antiword installed; "
        "neither was found"
    )


def test_doc_that_is_really_a_docx(tmp_path: Path) -> None:
    path = _copy(FIXTURES / "contacts.docx", tmp_path / "renamed.doc")
    assert summary(path) == DOC_ROWS


def test_contact_row_defaults() -> None:
    row = ContactRow(row=7, phones=("0712345678",))
    assert (row.where, row.name, row.groups, row.extras) == ("row 7", "", (), {})


@pytest.mark.parametrize(
    ("cells", "width"),
    [
        (["Name", "Phone", "", "Club"], 4),
        (["", "", "Name", "Phone"], 4),
        (["Name", "Phone", *[""] * 16, "Notes"], 19),
        (["Name", "Phone", *[""] * 17, "printed 2024-05-06"], 2),
        (["", ""], 0),
        ([], 0),
    ],
)
def test_table_width_ignores_a_stray_cell_far_right(cells: list[str], width: int) -> None:
    assert table_width(cells) == width


def test_word_table_cells_match_python_docx(tmp_path: Path) -> None:
    """Merged cells read like python-docx's row.cells (spans repeated, merges carried down)."""
    document = Document()
    table = document.add_table(rows=5, cols=4)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"r{r}c{c}"
    table.cell(1, 0).merge(table.cell(3, 0))
    table.cell(1, 1).merge(table.cell(1, 2))
    table.cell(2, 1).merge(table.cell(3, 2))
    run = table.cell(4, 3).paragraphs[0].add_run("a")
    run.add_tab()
    run.add_text("b")
    run.add_break()
    table.cell(4, 3).add_paragraph("second paragraph")
    path = tmp_path / "merged.docx"
    document.save(str(path))
    reread = Document(str(path)).tables[0]
    expected = [[cell.text for cell in row.cells] for row in reread.rows]
    assert table_cells(reread, number=1, shown=path) == expected
    assert expected[3][0] == expected[1][0] == "r1c0\nr2c0\nr3c0"  # carried down the merge
    assert expected[2][1] == expected[2][2] == "r2c1\nr2c2\nr3c1\nr3c2"  # repeated across
    assert expected[4][3] == "r4c3a\tb\n\nsecond paragraph"
