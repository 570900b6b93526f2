"""An error mid-way through `contacts list` ends the database read cleanly, before close."""

from __future__ import annotations

import argparse
import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest

from bot.cli import contacts as cli_contacts
from bot.config.loader import load_config
from handlers.entry import main
from tests.support.base import cli_with_contacts


class FailsOnThird(argparse.Namespace):
    """`contacts list` arguments whose --json flag cannot be read a third time."""

    def __init__(self) -> None:
        super().__init__(group=None)
        self.reads = 0

    @property
    def json(self) -> bool:
        self.reads += 1
        if self.reads == 3:
            raise RuntimeError("stopped mid-list")
        return False


def test_an_error_mid_list_closes_the_read_and_leaves_the_db_usable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = cli_with_contacts(tmp_path)
    capsys.readouterr()
    problems: list[dict[str, Any]] = []
    args = FailsOnThird()

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: problems.append(ctx))
        with pytest.raises(RuntimeError, match="stopped mid-list"):
            await asyncio.wait_for(cli_contacts.list_cmd(args, load_config(Path(base[1]))), 10)
        for _ in range(5):  # give any generator left open the chance to be finalised
            await asyncio.sleep(0)

    asyncio.run(scenario())
    gc.collect()
    assert args.reads == 3
    assert problems == []  # no "Cannot operate on a closed database" from a late cursor close
    assert main([*base, "contacts", "optout", "0712345001"]) == 0
    assert main([*base, "contacts", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6 and "+254712345001" in out[1] and "(opted out)" in out[1]
