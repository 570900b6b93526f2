"""The errors the core raises for requests that cannot be done as asked."""

from __future__ import annotations


class UserError(Exception):
    """A request that cannot be done as asked; the message says how to fix it."""


class NotFound(UserError):
    """The thing asked for does not exist."""


class Forbidden(UserError):
    """The person may not do this."""
