"""`smsops gateway test` against a fake Africa's Talking server in its own process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers.entry import main
from tests.support.base import AT_KEY, free_port, write_config


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.africastalking",
            "--port",
            str(port),
            "--api-key",
            AT_KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and "listening" in proc.stdout.readline()
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, **opts: Any
) -> tuple[int, str]:
    config = write_config(tmp_path, primary="africastalking", **opts)
    code = main(["--config", str(config), "gateway", "test", *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_accepted_to_admin_phone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_url: str
) -> None:
    code, out = run(tmp_path, capsys, at_url=fake_url)
    assert code == 0
    assert "accepted for +254712000003" in out and "id=ATXid_" in out


def test_bad_key_is_diagnosed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_url: str
) -> None:
    code, out = run(tmp_path, capsys, "0712345678", at_url=fake_url, at_key="wrong-key-123")
    assert code == 1
    assert "authentication failed" in out and "wrong-key-123" not in out


def test_unreachable_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, "0712345678", at_url=f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "cannot connect" in out


def test_bad_number_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, "0712")
    assert code == 1 and out.strip() == "smsops: too short"
