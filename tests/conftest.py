"""Shared test set-up: a guard against connections off loopback, and a watch on every log line."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

logger = logging.getLogger(__name__)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX path
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Fail any socket connection to an address off loopback."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# --- every log record of the session, checked for known test secrets ---------------------------

SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|KEY)$")


def known_secrets() -> set[str]:
    """The test secrets: tests.support's values plus every *_TOKEN/*_SECRET/*_KEY str in tests."""
    from tests.support import base, chat

    found = {
        base.AT_KEY,
        base.CALLBACK_SECRET,
        base.API_TOKEN,
        base.DEAN_TOKEN,
        base.ADMIN_TOKEN,
        chat.SIGNING_SECRET,
        chat.SLACK_TOKEN,
        chat.TG_TOKEN,
        chat.TG_SECRET,
    }
    for name, module in list(sys.modules.items()):
        if not name.startswith("tests.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if SECRET_NAME.search(attr) and isinstance(value, str) and len(value) >= 8:
                found.add(value)
    return found


def leaked(text: str, secrets: set[str]) -> list[str]:
    """The secrets (as given, URL-quoted or form-quoted) that occur in `text`."""
    hits = []
    for secret in secrets:
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        if any(form in text for form in forms):
            hits.append(secret)
    return hits


class SecretWatch(logging.Handler):
    """A root handler at DEBUG that checks every formatted record (message, traceback, stack)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.secrets = known_secrets()
        self.records = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record as a log line would be; remember it if it holds a secret."""
        try:
            text = self.format(record)
        except Exception:  # a broken record is the logging module's business, not ours
            text = f"{record.msg!r} {record.args!r}"
        self.records += 1
        if hits := leaked(text, self.secrets):
            names = ", ".join(sorted(h[:6] + "…" for h in hits))
            self.leaks.append(f"[{names}] {text[:400]}")

    def refresh(self) -> None:
        """Pick up secrets defined by test modules imported since the start."""
        self.secrets = known_secrets()


WATCH = SecretWatch()


def check_watch(watch: SecretWatch) -> None:
    """Fail, listing the offending lines, if the watch saw any secret (or saw nothing at all)."""
    assert watch.records > 0, "the log watch saw no records at all"
    assert not watch.leaks, "secrets in log records:\n" + "\n".join(watch.leaks[:20])


def pytest_configure(config: pytest.Config) -> None:
    """Root at DEBUG for the watch; pytest's own capture stays at WARNING, as before the watch."""
    if config.getoption("log_level", None) is None and not config.getini("log_level"):
        config.option.log_level = "WARNING"
    attach_watch()  # before pytest's catching_logs note the root level they restore after a phase


def attach_watch() -> None:
    """Put the watch on the root logger at DEBUG (a CLI run's setup_logging may have dropped it)."""
    root = logging.getLogger()
    if WATCH not in root.handlers:
        root.addHandler(WATCH)
    root.setLevel(logging.DEBUG)


@pytest.fixture(autouse=True, scope="session")
def _no_secret_in_logs() -> Iterator[SecretWatch]:
    """Fail the session if any log record of any test held a known test secret."""
    attach_watch()
    WATCH.refresh()
    yield WATCH
    attach_watch()
    # a canary, so a session that logged nothing (a CLI-only file) still proves the watch works
    logging.getLogger(__name__).debug("log watch: end of session")
    logging.getLogger().removeHandler(WATCH)
    check_watch(WATCH)


@pytest.fixture(autouse=True)
def _watch_attached(_no_secret_in_logs: SecretWatch) -> Iterator[None]:
    """Watch each test from DEBUG up; afterwards undo what a CLI run's setup_logging did."""
    from bot.logs import NOISY

    root = logging.getLogger()
    handlers = set(root.handlers)
    levels = {name: logging.getLogger(name).level for name in NOISY}
    attach_watch()
    _no_secret_in_logs.refresh()
    yield
    for handler in root.handlers[:]:  # the CLI's stderr handler would outlive capsys's stream
        if type(handler) is logging.StreamHandler and handler not in handlers:
            root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    attach_watch()
