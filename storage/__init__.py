"""Storage: the schema, the migrations and every SQL statement, behind `Database`."""

from storage.db import (
    SQLITE_INT_LIMIT,
    Database,
    DatabaseSettings,
    StorageError,
    Tx,
    open_database,
)

__all__ = [
    "SQLITE_INT_LIMIT",
    "Database",
    "DatabaseSettings",
    "StorageError",
    "Tx",
    "open_database",
]
