"""A number given twice in one file: the first row wins, later rows add only their groups."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from bot.clock import FrozenClock
from bot.contacts.importer import BATCH, ContactImporter, ImportReport
from bot.contacts.phones import PhoneNormaliser
from storage.db import Database
from tests.support.db import DbFile

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"
PARENTS = (
    "Name,Phone,Group\n"
    "Mary Parent,0712000501,class: form 1\n"
    "Otieno Baraka,0712000502,class: form 1\n"
    "Mary Wanjiru,+254 712 000 501,class: form 2\n"
)


class Importer:
    """The real importer on a real database file; the clock moves a minute per import."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path
        self.clock = FrozenClock(datetime(2024, 5, 6, 8, 0, tzinfo=UTC))

    async def __call__(self, path: Path, **kwargs: Any) -> ImportReport:
        self.clock.advance(60)
        importer = ContactImporter(self.db, PhoneNormaliser("KE"), clock=self.clock)
        return await importer.run(path, **kwargs)

    def contacts(self) -> dict[str, tuple[str, str, str, list[str]]]:
        """phone -> (name, first name, updated_at, group labels), read straight from the file."""
        rows = DbFile(self.path).contacts_with_groups()
        out: dict[str, tuple[str, str, str, list[str]]] = {}
        for phone, name, first, updated, label in (r.values() for r in rows):
            out.setdefault(phone, (name, first, updated, []))[3].extend([label] if label else [])
        return out


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Importer]:
    path = tmp_path / "contacts.db"
    db = await Database.open(path)
    try:
        yield Importer(db, path)
    finally:
        await db.close()


def counts(report: ImportReport) -> tuple[int, int, int, int]:
    return report.imported, report.updated, report.unchanged, report.duplicates


def skips(report: ImportReport) -> list[tuple[str, str, str]]:
    return [(s["where"], s["value"], s["reason"]) for s in report.skipped]


async def test_first_row_wins_and_groups_merge(run: Importer, tmp_path: Path) -> None:
    path = tmp_path / "parents.csv"
    path.write_text(PARENTS, encoding="utf-8")
    report = await run(path)
    mary = run.contacts()["+254712000501"]
    assert mary[:2] == ("Mary Parent", "Mary")
    assert mary[3] == ["class:form-1", "class:form-2"]
    assert skips(report) == [("row 4", "+254 712 000 501", "duplicate of row 2")]
    assert counts(report) == (2, 0, 0, 1)
    assert report.skipped[0]["row"] == 4 and report.skipped_count == 1
    assert dict(report.groups) == {"class:form-1": 2, "class:form-2": 1}
    assert report.as_json()["duplicates"] == 1


async def test_reimporting_the_same_file_changes_nothing(run: Importer, tmp_path: Path) -> None:
    path = tmp_path / "parents.csv"
    path.write_text(PARENTS, encoding="utf-8")
    await run(path)
    before = run.contacts()
    for _ in range(2):
        again = await run(path)
        assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)
        assert again.duplicates == 1
        assert skips(again) == [("row 4", "+254 712 000 501", "duplicate of row 2")]
        assert run.contacts() == before  # names, memberships and updated_at all as they were


async def test_duplicate_in_a_later_batch(run: Importer, tmp_path: Path) -> None:
    """The first row is written in one batch; its repeat arrives in the next and adds a group."""
    path = tmp_path / "big.csv"
    lines = [f"Parent {i},07120{i:05d},class: form 1" for i in range(BATCH + 100)]
    lines.append("Someone Else,0712000000,class: form 3")  # the first row's number
    path.write_text("Name,Phone,Group\n" + "\n".join(lines) + "\n", encoding="utf-8")
    report = await run(path)
    assert counts(report) == (BATCH + 100, 0, 0, 1)
    assert skips(report) == [(f"row {BATCH + 102}", "0712000000", "duplicate of row 2")]
    assert report.groups == {"class:form-1": BATCH + 100, "class:form-3": 1}
    first = run.contacts()["+254712000000"]
    assert first[0] == "Parent 0" and first[3] == ["class:form-1", "class:form-3"]
    before = run.contacts()
    again = await run(path)
    assert counts(again) == (0, 0, BATCH + 100, 1)
    assert run.contacts() == before


@pytest.mark.parametrize("later_batch", [False, True], ids=["same batch", "later batch"])
async def test_merged_group_counts_the_contact_updated_once(
    run: Importer, tmp_path: Path, later_batch: bool
) -> None:
    """A stored contact whose repeat brings a new group is "updated" once, not also unchanged."""
    size = BATCH + 100 if later_batch else 3
    rows = [f"Parent {i},07120{i:05d},class: form 1" for i in range(size)]
    base = tmp_path / "base.csv"
    base.write_text("Name,Phone,Group\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await run(base)
    grown = tmp_path / "grown.csv"
    extra = "Parent 0 again,0712000000,club: chess"
    grown.write_text("Name,Phone,Group\n" + "\n".join([*rows, extra]) + "\n", encoding="utf-8")
    report = await run(grown)
    assert counts(report) == (0, 1, size - 1, 1)
    assert run.contacts()["+254712000000"][3] == ["class:form-1", "club:chess"]
    assert counts(await run(grown)) == (0, 0, size, 1)


async def test_repeat_with_no_new_group_adds_nothing(run: Importer, tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text(
        "Name,Phone,Group\nA One,0712000601,club: ict\nA Two,0712000601,club: ict\n",
        encoding="utf-8",
    )
    report = await run(path, groups=("parents:form1",))
    assert counts(report) == (1, 0, 0, 1)
    assert report.groups == {"club:ict": 1, "parents:form1": 1}
    assert run.contacts()["+254712000601"][3] == ["club:ict", "parents:form1"]


async def test_number_twice_in_one_row(run: Importer, tmp_path: Path) -> None:
    path = tmp_path / "row.csv"
    path.write_text('Name,Phone\nJane,"0712 345 678 / +254712345678"\n', encoding="utf-8")
    report = await run(path)
    assert counts(report) == (1, 0, 0, 1)
    assert skips(report) == [("row 2", "+254712345678", "repeated in row 2")]


async def test_dry_run_reports_duplicates_and_writes_nothing(run: Importer, tmp_path: Path) -> None:
    path = tmp_path / "parents.csv"
    path.write_text(PARENTS, encoding="utf-8")
    report = await run(path, dry_run=True)
    assert counts(report) == (2, 0, 0, 1) and report.dry_run
    assert run.contacts() == {}


async def test_same_parent_on_two_sheets(run: Importer, tmp_path: Path) -> None:
    """Excel: the place named is the sheet and row, as skipped rows are reported elsewhere."""
    book = Workbook()
    form1 = book.active
    assert form1 is not None
    form1.title = "Form 1"
    form1.append(["Name", "Mobile", "Club"])
    form1.append(["Mary Parent", 712000501, "ICT"])
    form2 = book.create_sheet("Form 2")
    form2.append(["Name", "Mobile", "Club"])
    form2.append(["Jane Achieng", "0712000502", "Chess"])
    form2.append(["Mary W.", "0712 000 501", "Drama"])
    path = tmp_path / "forms.xlsx"
    book.save(path)
    report = await run(path)
    assert counts(report) == (2, 0, 0, 1)
    assert skips(report) == [
        ("sheet Form 2 row 3", "0712 000 501", "duplicate of sheet Form 1 row 2")
    ]
    mary = run.contacts()["+254712000501"]
    assert mary[0] == "Mary Parent" and mary[3] == ["club:drama", "club:ict"]
    assert counts(await run(path)) == (0, 0, 2, 1)


async def test_word_fixture_names_tables_and_paragraphs(run: Importer) -> None:
    """contacts.docx gives +254712345678 in a table and again in paragraphs."""
    report = await run(FIXTURES / "contacts.docx")
    reasons = {(where, reason) for where, _, reason in skips(report)}
    assert ("table 1 row 3", "duplicate of table 1 row 2") in reasons
    assert ("paragraph 4", "duplicate of table 1 row 2") in reasons
    assert run.contacts()["+254712345678"][0] == "Jane Wanjiru"
    again = await run(FIXTURES / "contacts.docx")
    assert again.updated == 0 and again.imported == 0
