"""Test helpers: configs written as real TOML files, and a core on a temporary database."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import Clock, FrozenClock
from bot.config.loader import load_config
from bot.config.types import Config
from bot.core import Core

logger = logging.getLogger(__name__)

AT_KEY = "fake-at-api-key"
CALLBACK_SECRET = "cb-secret-0123456789"
API_TOKEN = "registrar-token-0123456789abcdef"
DEAN_TOKEN = "dean-token-0123456789abcdef01"
ADMIN_TOKEN = "admin-token-0123456789abcdef0"

BASE = """
[organisation]
name = "{org}"
timezone = "Africa/Nairobi"
default_region = "KE"

[database]
path = "{db_name}"
{cache_line}

[server]
host = "127.0.0.1"
port = {port}

[gateways]
primary = "{primary}"
{fallback_line}

[gateways.simulator]
delivery_delay_seconds = 0.05

[gateways.africastalking]
username = "sandbox"
api_key = "{at_key}"
callback_secret = "{secret}"
base_url = "{at_url}"
timeout_seconds = {timeout}

[dispatch]
approval_threshold = {threshold}
second_approver_threshold = {second}
approval_expiry_minutes = 60
price_per_segment = 0.8
currency = "KES"
quiet_hours_start = "{quiet_start}"
quiet_hours_end = "{quiet_end}"
batch_size = {batch}
max_attempts = {attempts}
backoff_base_seconds = {backoff}
backoff_max_seconds = {backoff_max}

[dispatch.footers]
promo = "STOP to opt out"

[api.tokens.registrar]
token = "{api_token}"
person = "registrar"

[api.tokens.dean]
token = "{dean_token}"
person = "dean"

[api.tokens.admin]
token = "{admin_token}"
person = "ict-admin"

[people.registrar]
name = "Registrar"
role = "staff"
phone = "0712000001"

[people.dean]
name = "Dean"
role = "approver"
phone = "0712000002"

[people.bursar]
name = "Bursar"
role = "approver"
phone = "0712000004"

[people.ict-admin]
name = "ICT Admin"
role = "admin"
phone = "0712000003"
"""


def write_config(tmp_path: Path, *, extra: str = "", **overrides: Any) -> Path:
    """Write a complete test config file and return its path."""
    values: dict[str, Any] = {
        "org": "Test University",
        "db_name": "test.db",
        "cache_line": "",
        "port": 0,
        "primary": "simulator",
        "fallback_line": "",
        "at_key": AT_KEY,
        "secret": CALLBACK_SECRET,
        "at_url": "http://127.0.0.1:9",
        "timeout": 5,
        "threshold": 3,
        "second": 0,
        "quiet_start": "00:00",
        "quiet_end": "00:00",
        "batch": 100,
        "attempts": 4,
        "backoff": 0.01,
        "backoff_max": 5,
        "api_token": API_TOKEN,
        "dean_token": DEAN_TOKEN,
        "admin_token": ADMIN_TOKEN,
    }
    values.update(overrides)
    path = tmp_path / "smsops.toml"
    path.write_text(BASE.format(**values) + textwrap.dedent(extra), encoding="utf-8")
    return path


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config(tmp_path: Path, *, extra: str = "", **overrides: Any) -> Config:
    """A loaded Config for a fresh temporary folder."""
    return load_config(write_config(tmp_path, extra=extra, **overrides))


def frozen(at: str = "2026-11-20T07:00:00+00:00") -> FrozenClock:
    """A frozen clock at a given UTC time (10:00 in Nairobi by default)."""
    return FrozenClock(datetime.fromisoformat(at).astimezone(UTC))


class ShiftClock(Clock):
    """Real time plus an offset the test can move forward (e.g. past an approval's expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        super().__init__(wall=lambda: datetime.now(UTC) + self.offset)


#: One Kenyan number, +254712345678, written six common ways.
SAME_NUMBER_FORMS = (
    "0712345678",
    "712345678",
    "254712345678",
    "+254 712 345 678",
    "0712-345-678",
    "(0712) 345678",
)

CONTACTS_CSV = """Name,Phone,Club,Department
Achieng Otieno,0712 345 001,ICT,Computing
Brian Kiprotich,+254 712 345 002,ICT,Computing
Chebet Wanjala,712345003,Chess,Computing
David Mwangi,254712345004,Chess,Engineering
Esther Njeri,0712-345-005,Drama,Engineering
"""


async def seed_contacts(core: Core, tmp_path: Path, csv_text: str = CONTACTS_CSV) -> None:
    """Import a small contact list."""
    from bot.contacts.importer import ContactImporter

    path = tmp_path / "seed.csv"
    path.write_text(csv_text, encoding="utf-8")
    await ContactImporter(core.db, core.phones, clock=core.clock).run(path)


def cli_with_contacts(tmp_path: Path, *group_args: str) -> list[str]:
    """Write a config, upgrade its database and import CONTACTS_CSV through the CLI.

    Returns the ["--config", FILE] prefix for further `main([...])` calls.
    """
    from handlers.entry import main

    config = write_config(tmp_path)
    contacts = tmp_path / "c.csv"
    contacts.write_text(CONTACTS_CSV, encoding="utf-8")
    base = ["--config", str(config)]
    assert main([*base, "db", "upgrade"]) == 0
    assert main([*base, "contacts", "import", str(contacts), *group_args]) == 0
    return base


async def spawn_serve(config: Path) -> asyncio.subprocess.Process:
    """`smsops serve` on `config` as a child process, its output (unbuffered) on one pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handlers",
        "--config",
        str(config),
        "serve",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
