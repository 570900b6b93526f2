"""The SQLite store: schema, migrations and every SQL statement; the stored states as StrEnums."""

from storage.states import (
    IN_FLIGHT,
    LIVE_STATES,
    OPEN_STATES,
    BroadcastKind,
    BroadcastState,
    KeywordAction,
    OutboxState,
)

__all__ = [
    "IN_FLIGHT",
    "LIVE_STATES",
    "OPEN_STATES",
    "BroadcastKind",
    "BroadcastState",
    "KeywordAction",
    "OutboxState",
]
