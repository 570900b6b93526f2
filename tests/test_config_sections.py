"""Nested config tables refuse keys nobody reads, and the documented example keys all load."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.broadcasts.compose import greeting
from bot.config.loader import ConfigError, load_config
from tests.support.base import write_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


FOOTER = 'promo = "STOP to opt out"\n'  # the test config's only [dispatch.footers] line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '[dispatch.greetings]\nmornin = "Hi"\n',
            "dispatch.greetings.mornin: unknown key; use morning, afternoon, evening or a day as "
            '"MM-DD" (e.g. "12-25")',
        ),
        ('[dispatch.greetings]\n"13-01" = "Hi"\n', "dispatch.greetings.13-01: unknown key"),
        ('[dispatch.greetings]\n"02-30" = "Hi"\n', "dispatch.greetings.02-30: unknown key"),
        ('[dispatch.greetings]\n"12-25 " = "Hi"\n', "dispatch.greetings.12-25 : unknown key"),
        ('[dispatch.greetings]\n"2026-12-25" = "Hi"\n', "dispatch.greetings.2026-12-25: unknown"),
        ("[dispatch.greetings]\nmorning = 5\n", "dispatch.greetings.morning: must be a string"),
        (
            'promotion = "STOP to opt out"\n',  # replaces the footer line, see below
            "dispatch.footers.promotion: unknown key; use alert or promo",
        ),
        (
            "[gateways.rate_limits.africastalkng]\nmessages_per_second = 5\n",
            "gateways.rate_limits.africastalkng: unknown gateway; use one of simulator, "
            "africastalking, modem",
        ),
        (
            "[gateways.rate_limits.africastalking]\nmessages_per_sec = 5\n",
            "gateways.rate_limits.africastalking.messages_per_sec: unknown key",
        ),
    ],
)
def test_unknown_keys_in_nested_tables_are_one_line_naming_the_path(
    tmp_path: Path, extra: str, expected: str
) -> None:
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    if extra.startswith("["):
        text += "\n" + extra
    else:
        text = text.replace(FOOTER, extra)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    problems = err.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_seasonal_greetings_load_and_win_all_day(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        extra='[dispatch.greetings]\nmorning = "Habari ya asubuhi"\n"12-25" = "Merry Christmas"\n'
        '"02-29" = "Happy leap day"\n',
    )
    greetings = load_config(path).dispatch.greetings
    assert dict(greetings) == {
        "morning": "Habari ya asubuhi",
        "12-25": "Merry Christmas",
        "02-29": "Happy leap day",
    }
    assert greeting(datetime(2026, 12, 25, 20, 0), greetings) == "Merry Christmas"
    assert greeting(datetime(2026, 12, 24, 8, 0), greetings) == "Habari ya asubuhi"
    assert greeting(datetime(2026, 12, 24, 20, 0), greetings) == "Good evening"


def test_example_config_loads_with_every_documented_key_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config(EXAMPLE).dispatch.greetings["morning"] == "Good morning"
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{([A-Z_]+)\}", text)):
        monkeypatch.setenv(name, f"example-{name.lower()}-value")
    path = tmp_path / "smsops.toml"
    path.write_text(re.sub(r'(?m)^# (?=\[|[\w"-]+ = )', "", text), encoding="utf-8")
    config = load_config(path)
    assert config.slack is not None and config.telegram is not None
    assert config.slack.api_base_url == "https://slack-proxy.example.ac.ke/api/"
    assert config.telegram.api_base_url == "https://tg-proxy.example.ac.ke/bot"
    assert config.dispatch.greetings["12-25"] == "Merry Christmas"
    assert set(config.dispatch.footers) == {"alert", "promo"}
    assert set(config.gateways.rate_limits) == {"africastalking"}
    assert config.gateways.modems[0].id == "dongle1"
