"""Config loading: typed values, ${ENV} secrets, and one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.loader import ConfigError, load_config
from handlers.entry import main
from tests.support.base import write_config

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_loads() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.gateways.primary == "simulator"
    assert config.people["dean"].role == "approver"
    assert config.people["registrar"].phone == "+254712000001"
    assert config.database_cache_mb == 32
    assert str(config.timezone) == "Africa/Nairobi"


def test_env_secret_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_KEY_FOR_TEST", "from-the-environment")
    path = write_config(tmp_path, at_key="${AT_KEY_FOR_TEST}")
    config = load_config(path)
    assert config.gateways.africastalking is not None
    assert config.gateways.africastalking.api_key == "from-the-environment"
    assert "from-the-environment" in config.secrets()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace('api_key = "fake-at-api-key"\n', ""),
            "gateways.africastalking.api_key: missing",
        ),
        (
            lambda t: t.replace('role = "staff"', 'role = "registrar"'),
            "people.registrar.role: must be one of staff, approver, admin",
        ),
        (
            lambda t: t.replace("[dispatch]\n", "[dispatch]\nbatchsize = 3\n"),
            "dispatch.batchsize: unknown key",
        ),
        (
            lambda t: t.replace('api_key = "fake-at-api-key"', 'api_key = "${NOPE_NOT_SET}"'),
            "gateways.africastalking.api_key: environment variable NOPE_NOT_SET is not set",
        ),
        (
            lambda t: t.replace('timezone = "Africa/Nairobi"', 'timezone = "Mars/Olympus"'),
            "organisation.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            lambda t: t.replace('phone = "0712000002"', 'phone = "0202222222"'),
            "people.dean.phone: not a valid phone number",
        ),
        (
            lambda t: t.replace('person = "dean"', 'person = "nobody"'),
            "api.tokens.dean.person: no such person 'nobody'",
        ),
        (
            lambda t: t.replace('primary = "simulator"', 'primary = "pigeon"'),
            "gateways.primary: must be one of simulator, africastalking, modem",
        ),
        (
            lambda t: t.replace("batch_size = 100", 'batch_size = "many"'),
            "dispatch.batch_size: must be an integer, got str",
        ),
        (
            lambda t: t.replace(
                "[dispatch]\n", '[dispatch]\ndefault_sender_id = "UNIVERSITYOFX"\n'
            ),
            "dispatch.default_sender_id: 'UNIVERSITYOFX': 13 characters",
        ),
        (
            lambda t: t.replace("[database]\n", "[database]\ncache_mb = 0\n"),
            "database.cache_mb: must be at least 1",
        ),
        (
            lambda t: t.replace('quiet_hours_start = "00:00"', 'quiet_hours_start = "6pm"'),
            "dispatch.quiet_hours_start: must be a time like",
        ),
    ],
)
def test_problems_name_their_key(tmp_path: Path, edit: object, expected: str) -> None:
    path = write_config(tmp_path)
    path.write_text(edit(path.read_text()), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(line.startswith(expected) for line in err.value.problems), err.value.problems


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = (
        path.read_text()
        .replace('role = "staff"', 'role = "boss"')
        .replace("[dispatch]\n", "[dispatch]\ntypo = 1\n")
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.problems) == 2


def test_cli_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('role = "staff"', 'role = "boss"'), encoding="utf-8")
    assert main(["--config", str(path), "groups", "list"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("config: people.registrar.role: must be one of staff, approver, admin")
    assert "Traceback" not in err


def test_missing_and_broken_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "groups", "list"]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1", encoding="utf-8")
    assert main(["--config", str(bad), "groups", "list"]) == 2
    assert "invalid TOML" in capsys.readouterr().err


def test_config_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("SMSOPS_CONFIG", str(path))
    assert main(["groups", "list"]) == 0
    monkeypatch.delenv("SMSOPS_CONFIG")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smsops.toml").write_text(path.read_text(), encoding="utf-8")
    assert main(["groups", "list"]) == 0
