"""The `smsops` command line: argument parsing, one-line errors, and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot import __version__
from bot.cli.broadcasts import register as register_broadcasts
from bot.cli.chat import register as register_chat
from bot.cli.contacts import register as register_contacts
from bot.cli.db import register as register_db
from bot.cli.errors import describe
from bot.cli.inbound import register as register_inbound
from bot.cli.modem import register as register_modem
from bot.cli.ops import register as register_ops
from bot.config.loader import ConfigError, load_config, resolve_config_path
from bot.config.types import Config
from bot.edges import Fronts

logger = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


# Exit status when the reader of our output goes away (`smsops contacts list | head -1`): the
# shell's status for a process killed by SIGPIPE, as other Unix tools give in a pipeline.
EXIT_BROKEN_PIPE = 128 + 13


def build_parser(*, fronts: Fronts) -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="smsops", description="SMS chat-ops bot")
    parser.add_argument("--config", help="config file (default: $SMSOPS_CONFIG or ./smsops.toml)")
    parser.add_argument("--version", action="version", version=f"smsops {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_db(sub)
    register_contacts(sub)
    register_broadcasts(sub)
    register_ops(sub, fronts=fronts)
    register_chat(sub, fronts=fronts)
    register_inbound(sub)
    register_modem(sub)
    return parser


def _setup_logging(verbose: bool, config: Config | None, *, server: bool) -> None:
    from bot.logs import setup_logging

    level = logging.DEBUG if verbose else logging.INFO if server else logging.WARNING
    setup_logging(level=level, secrets=config.secrets() if config else [])


def main(argv: Sequence[str] | None = None, *, fronts: Fronts) -> int:
    """Run one command with the edges' `fronts`; the exit status (see handlers.entry)."""
    parser = build_parser(fronts=fronts)
    args = parser.parse_args(argv)
    try:
        config = load_config(resolve_config_path(args.config))
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config: {line}", file=sys.stderr)
        return 2
    _setup_logging(args.verbose, config, server=args.command == "serve")
    handler: Handler = args.handler
    try:
        status = asyncio.run(handler(args, config))
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it cannot be caught
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback
        message, code = describe(exc)
        if code is None:
            logger.debug("unexpected error", exc_info=True)
            code = 1
        print(f"smsops: {message}", file=sys.stderr)
        return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and Python flushes stdout again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
