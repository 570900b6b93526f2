"""Storage: the schema, the migrations and every SQL statement behind `Database`; the stored
states as StrEnums."""

from storage.db import (
    SQLITE_INT_LIMIT,
    Database,
    DatabaseSettings,
    StorageError,
    Tx,
    open_database,
)
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
    "SQLITE_INT_LIMIT",
    "BroadcastKind",
    "BroadcastState",
    "Database",
    "DatabaseSettings",
    "KeywordAction",
    "OutboxState",
    "StorageError",
    "Tx",
    "open_database",
]
