"""Logging set-up with a filter that redacts every configured secret from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

logger = logging.getLogger(__name__)


class RedactSecrets(logging.Filter):
    """Replaces any secret value in a formatted log message with ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets masked."""
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(*, level: int, secrets: Iterable[str]) -> None:
    """Log to stderr at `level`, with secrets redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiosqlite", "asyncio", "slack_bolt", "httpx", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
