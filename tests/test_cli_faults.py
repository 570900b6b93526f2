"""Small CLI faults: a backup into a missing folder, output piped into `head`, the entry points."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot import cli
from bot.config.loader import load_config
from bot.config.types import Config, TelegramConfig
from bot.edges import Fronts
from bot.server import build_app
from handlers.entry import main
from tests.support.base import write_config

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SMSOPS = [sys.executable, "-m", "handlers"]
TG_TOKEN = "123:telegram-token-for-cli-tests"  # *_TOKEN/*_SECRET: conftest's log watch knows them
TG_SECRET = "hook-secret_0123456789"


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real CLI in-process: exit status, stdout, stderr."""
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = write_config(tmp_path)
    assert run(path, capsys, "db", "upgrade")[0] == 0
    return path


def test_backup_into_a_missing_directory_names_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.db"
    code, out, err = run(config, capsys, "db", "backup", str(target))
    assert code == 1 and out == ""
    assert err == f"smsops: {target}: directory {target.parent} does not exist; create it first\n"
    assert not target.parent.exists()


def test_backup_under_a_file_says_it_is_not_a_directory(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = config / "x.db"  # the config file is not a folder
    code, _, err = run(config, capsys, "db", "backup", str(target))
    assert (code, err) == (1, f"smsops: {target}: {config} is not a directory\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_backup_into_a_read_only_directory_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    code, _, err = run(config, capsys, "db", "backup", str(folder / "x.db"))
    assert (code, err) == (
        1,
        f"smsops: {folder / 'x.db'}: no permission to create files in {folder}\n",
    )


def test_backup_still_writes_a_copy(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.db"
    code, out, err = run(config, capsys, "db", "backup", str(target))
    assert (code, err) == (0, "") and "backed up" in out
    assert target.stat().st_size > 0


@pytest.fixture
def many_contacts(config: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """3 000 contacts: `contacts list` prints far more than a pipe holds (64 KiB)."""
    csv = config.parent / "many.csv"
    rows = [f"Person number {i},07{20_000_000 + i:08d}" for i in range(3000)]
    csv.write_text("Name,Phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = run(config, capsys, "contacts", "import", str(csv))
    assert code == 0, err
    return config


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_output_piped_into_head_ends_quietly(many_contacts: Path, extra: list[str]) -> None:
    """`smsops contacts list | head -1`: no traceback, no error line, SIGPIPE's status."""
    lister = subprocess.Popen(
        [*SMSOPS, "--config", str(many_contacts), "contacts", "list", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert lister.stdout is not None and lister.stderr is not None
    head = subprocess.run(
        ["head", "-c", "20"], stdin=lister.stdout, capture_output=True, check=False
    )
    lister.stdout.close()  # only head holds the read end now; it is gone once head exits
    err = lister.stderr.read().decode()
    assert lister.wait(timeout=60) == cli.EXIT_BROKEN_PIPE, err
    assert err == ""
    assert head.returncode == 0 and len(head.stdout) == 20


def test_whole_output_still_arrives_through_a_pipe(many_contacts: Path) -> None:
    out = subprocess.run(
        [*SMSOPS, "--config", str(many_contacts), "contacts", "list"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode, out.stderr) == (0, "")
    assert len(out.stdout.splitlines()) == 3000


def test_python_m_bot_points_to_the_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("smsops: run `smsops ...` or `python -m handlers ...`")


def test_python_m_handlers_is_the_cli() -> None:
    out = subprocess.run(
        [*SMSOPS, "--version"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("smsops ")


class OtherFronts:
    """A second set of edges, to show the CLI uses whatever it is handed."""

    def __init__(self) -> None:
        self.webhooks: list[tuple[str, bool]] = []

    async def set_webhook(
        self, settings: TelegramConfig, *, url: str, drop_pending_updates: bool
    ) -> None:
        self.webhooks.append((url, drop_pending_updates))

    def fronts(self) -> Fronts:
        return Fronts(
            mount=lambda app, config: None,
            console_token=lambda config: None,
            console_token_path=lambda config: config.database_path.with_name("where.token"),
            set_telegram_webhook=self.set_webhook,
        )


def test_the_cli_asks_its_fronts_for_the_console_token(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fronts = OtherFronts().fronts()
    code = cli.main(["--config", str(config), "chat", "--as", "dean", "status 1"], fronts=fronts)
    _, err = capsys.readouterr()
    assert code == 1
    where = config.parent / "where.token"
    assert err == (
        "smsops: no console token: set [api] console_token, or start `smsops serve` "
        f"(it writes {where})\n"
    )


def test_the_cli_sets_the_webhook_through_its_fronts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    telegram = f"""
    [telegram]
    bot_token = "{TG_TOKEN}"
    webhook_secret = "{TG_SECRET}"
    approvals_chat_id = -100
    inbox_chat_id = -200
    """
    path = write_config(tmp_path, extra=telegram)
    other = OtherFronts()
    url = "https://bot.example.org/telegram/webhook"
    argv = ["--config", str(path), "telegram", "set-webhook", url, "--drop-pending-updates"]
    assert cli.main(argv, fronts=other.fronts()) == 0
    assert capsys.readouterr().out == f"webhook set: {url}\n"
    assert other.webhooks == [(url, True)]


def test_build_app_mounts_what_it_is_given(tmp_path: Path) -> None:
    mounted: list[tuple[web.Application, Config]] = []
    config = load_config(write_config(tmp_path))
    app = build_app(config, mount=lambda app, cfg: mounted.append((app, cfg)))
    assert mounted == [(app, config)]
    assert {r.resource.canonical for r in app.router.routes() if r.resource} == {"/healthz"}
