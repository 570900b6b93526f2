"""The `smsops` command line: one module per command group, `main` the entry point."""

from bot.cli.program import EXIT_BROKEN_PIPE, main

__all__ = ["EXIT_BROKEN_PIPE", "main"]
