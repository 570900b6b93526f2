"""`smsops contacts ...` and `groups ...` end to end through the real CLI on real-format files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.entry import main
from tests.support.base import SAME_NUMBER_FORMS, write_config
from tests.support.db import DbFile

FIXTURES = Path(__file__).parent / "fixtures" / "contacts"


class Cli:
    """Runs the real CLI in-process against one config."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]):
        self.config = config
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    @property
    def db(self) -> DbFile:
        """The config's database file."""
        return DbFile(self.config.parent / "test.db")


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(write_config(tmp_path), capsys)


def test_google_contacts_export(cli: Cli) -> None:
    report = cli.json("contacts", "import", str(FIXTURES / "google_contacts.csv"))
    assert set(report) >= {"imported", "updated", "unchanged", "skipped", "groups"}
    phones = {r[0] for r in cli.db.tuples("contacts", "phone")}
    # one cell held two numbers separated by " ::: "; each became a contact with that name
    assert {"+254712345678", "+254733111222"} <= phones
    names = dict(cli.db.tuples("contacts", "phone", "name"))
    assert names["+254733111222"] == names["+254712345678"] or names["+254733111222"]
    reasons = {s["reason"] for s in report["skipped"]}
    assert any("fixed line" in r for r in reasons)


def test_reimport_changes_nothing(cli: Cli) -> None:
    first = cli.json("contacts", "import", str(FIXTURES / "outlook_contacts.csv"))
    assert first["imported"] > 0
    before = cli.db.tuples("contacts")
    members = cli.db.tuples("memberships", order="1, 2")
    again = cli.json("contacts", "import", str(FIXTURES / "outlook_contacts.csv"))
    assert again["imported"] == 0 and again["updated"] == 0
    assert again["unchanged"] == first["imported"] + first["updated"] + first["unchanged"]
    after = cli.db.tuples("contacts")
    assert [r[:6] for r in before] == [r[:6] for r in after]
    assert members == cli.db.tuples("memberships", order="1, 2")


@pytest.mark.parametrize(
    "name",
    [
        "google_contacts_new.csv",
        "outlook_desktop.csv",
        "latin1.csv",
        "semicolon.csv",
        "utf8_bom.csv",
        "excel_unicode.txt",
        "students.xlsx",
        "clubs.xlsx",
        "contacts.docx",
    ],
)
def test_every_fixture_imports(cli: Cli, name: str) -> None:
    report = cli.json("contacts", "import", str(FIXTURES / name))
    assert report["imported"] > 0, report
    for (phone,) in cli.db.tuples("contacts", "phone"):
        assert phone.startswith("+") and phone[1:].isdigit()


def test_same_number_in_every_format_is_one_contact(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "forms.csv"
    forms = SAME_NUMBER_FORMS
    path.write_text(
        "name,phone\n" + "".join(f'Person {i},"{f}"\n' for i, f in enumerate(forms)),
        encoding="utf-8",
    )
    report = cli.json("contacts", "import", str(path))
    assert (report["imported"], report["updated"], report["unchanged"]) == (1, 0, 0)
    assert report["duplicates"] == 5
    assert [(s["where"], s["reason"]) for s in report["skipped"]] == [
        (f"row {i}", "duplicate of row 2") for i in range(3, 8)
    ]
    assert cli.db.tuples("contacts", "phone", "name") == [("+254712345678", "Person 0")]


def test_group_flag_and_columns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "Name,Mobile,Club,Dept\nA,0712000101,ICT,Computing\nB,0712000102,,\n", encoding="utf-8"
    )
    report = cli.json("contacts", "import", str(path), "--group", "parents:form1")
    assert report["groups"] == {"club:ict": 1, "dept:computing": 1, "parents:form1": 2}
    groups = cli.json("groups", "list")
    assert {g["label"]: g["members"] for g in groups}["parents:form1"] == 2


def test_opted_out_contact_stays_opted_out(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Name,Phone\nAmina,0712000201\n", encoding="utf-8")
    cli.json("contacts", "import", str(path))
    assert cli("contacts", "optout", "0712 000 201")[0] == 0
    path.write_text("Name,Phone\nAmina Hassan,0712000201\n", encoding="utf-8")
    report = cli.json("contacts", "import", str(path))
    assert report["updated"] == 1
    rows = cli.db.tuples("contacts", "name", "opted_out_at", "optout_source")
    assert rows[0][0] == "Amina Hassan" and rows[0][1] is not None and rows[0][2] == "staff"
    actions = [r[0] for r in cli.db.tuples("audit_log", "action")]
    assert actions.count("contact.optout") == 1
    assert cli("contacts", "optin", "+254712000201")[0] == 0
    assert cli.db.tuples("contacts", "opted_out_at") == [(None,)]


def test_dry_run_writes_nothing(cli: Cli) -> None:
    report = cli.json("contacts", "import", str(FIXTURES / "students.xlsx"), "--dry-run")
    assert report["imported"] > 0 and report["dry_run"] is True
    assert cli.db.count("contacts") == 0
    assert cli.db.count("audit_log") == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("corrupt.xlsx", "corrupt.xlsx"),
        ("corrupt.docx", "corrupt.docx"),
        ("empty.csv", "empty"),
        ("no_phone.csv", "no phone column"),
        ("binary.csv", "binary.csv"),
        ("does-not-exist.csv", "no such file"),
    ],
)
def test_bad_input_one_line_nothing_written(cli: Cli, name: str, message: str) -> None:
    code, _out, err = cli("contacts", "import", str(FIXTURES / name))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err
    assert cli.db.count("contacts") == 0


def test_directory_is_refused(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("contacts", "import", str(tmp_path))
    assert code != 0 and "directory" in err and len(err.strip().splitlines()) == 1


def test_failure_midway_rolls_back(cli: Cli, tmp_path: Path) -> None:
    """A CSV that breaks after valid rows (a NUL-laden tail) leaves the store as it was."""
    path = tmp_path / "half.csv"
    good = "".join(f"P{i},07120{i:05d}\n" for i in range(3000))
    path.write_bytes(("name,phone\n" + good).encode() + b"\x00" * 5000 + b"\n")
    code, _, err = cli("contacts", "import", str(path))
    assert code != 0, err
    assert cli.db.count("contacts") == 0


def test_export_round_trips(cli: Cli, tmp_path: Path) -> None:
    cli.json("contacts", "import", str(FIXTURES / "students.xlsx"))
    before = cli.json("contacts", "list")
    out = tmp_path / "out.csv"
    assert cli("contacts", "export", str(out))[0] == 0
    (tmp_path / "second").mkdir()
    other = Cli(write_config(tmp_path / "second"), cli.capsys)
    report = other.json("contacts", "import", str(out))
    assert report["imported"] == len(before)
    after = other.json("contacts", "list")
    strip = [(c["phone"], c["name"], c["groups"], c["extra"]) for c in before]
    assert strip == [(c["phone"], c["name"], c["groups"], c["extra"]) for c in after]


def test_groups_create_and_filtered_list(cli: Cli, tmp_path: Path) -> None:
    assert cli("groups", "create", "club:ict", "--joinable")[0] == 0
    code, _, err = cli("groups", "create", "not a label")
    assert code != 0 and "kind:name" in err
    path = tmp_path / "c.csv"
    path.write_text("Name,Phone,Club\nA,0712000301,ICT\nB,0712000302,Chess\n", encoding="utf-8")
    cli.json("contacts", "import", str(path))
    listed = cli.json("contacts", "list", "--group", "club:ict")
    assert [c["phone"] for c in listed] == ["+254712000301"]
    groups = {g["label"]: g for g in cli.json("groups", "list")}
    assert groups["club:ict"]["joinable"] is True
    actions = {r[0] for r in cli.db.tuples("audit_log", "action")}
    assert {"group.create", "contacts.import"} <= actions


def test_db_backup(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Name,Phone\nA,0712000401\n", encoding="utf-8")
    cli.json("contacts", "import", str(path))
    target = tmp_path / "backup.db"
    assert cli("db", "backup", str(target))[0] == 0
    assert DbFile(target).tuples("contacts", "phone") == [("+254712000401",)]
    code, _, err = cli("db", "backup", str(target))
    assert code != 0 and "already exists" in err


def test_repeated_number_is_reported_and_reimport_is_quiet(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "parents.csv"
    path.write_text(
        "Name,Phone,Group\nMary Parent,0712000501,class: form 1\n"
        "Mary Wanjiru,0712000501,class: form 2\n",
        encoding="utf-8",
    )
    for verb in ("imported 1, updated 0, unchanged 0", "imported 0, updated 0, unchanged 1"):
        code, out, err = cli("contacts", "import", str(path))
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == f"parents.csv: {verb}, skipped 1"
        assert "  skipped row 3: '0712000501': duplicate of row 2" in lines
        assert any(line.startswith("  repeated numbers 1: the first row") for line in lines)
    assert cli.db.tuples("contacts", "name") == [("Mary Parent",)]
    listed = cli.json("contacts", "list")
    assert listed[0]["groups"] == ["class:form-1", "class:form-2"]
