"""Logging set-up with a filter that redacts every configured secret from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

_FORMATTER = logging.Formatter()
NOISY = ("asyncio", "slack_bolt", "httpx", "telegram")  # kept at WARNING


class RedactSecrets(logging.Filter):
    """Replaces any secret value in a record's message, traceback and stack with ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these secrets too (longest first, so no secret is half-masked by another)."""
        merged = set(self.secrets) | {s for s in secrets if s}
        self.secrets = sorted(merged, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message, exception text and stack with secrets masked."""
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let the handler report it as usual
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


_EVERYWHERE = RedactSecrets([])


def redact_everywhere(secrets: Iterable[str]) -> None:
    """Mask these secrets in every log record this process makes, whichever handler gets it."""
    first = not _EVERYWHERE.secrets
    _EVERYWHERE.add(secrets)
    if not first or not _EVERYWHERE.secrets:
        return
    make = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _EVERYWHERE.filter(record)
        return record

    logging.setLogRecordFactory(redacting_factory)


def setup_logging(*, level: int, secrets: Iterable[str]) -> None:
    """Log to stderr at `level`, with secrets redacted."""
    secrets = list(secrets)
    redact_everywhere(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
