"""Turn known exceptions into one-line messages and exit codes for the CLI."""

from __future__ import annotations

from bot.contacts.files import ContactFileError
from bot.contacts.phones import PhoneError
from bot.errors import UserError
from storage.db import StorageError

KNOWN: tuple[type[BaseException], ...] = (
    UserError,
    ContactFileError,
    PhoneError,
    StorageError,
    ValueError,
    OSError,
)


def describe(exc: BaseException) -> tuple[str, int | None]:
    """A one-line message and an exit code (None when the error was unexpected)."""
    if isinstance(exc, KNOWN):
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text, 1
    return f"unexpected error: {type(exc).__name__}: {exc}", None
