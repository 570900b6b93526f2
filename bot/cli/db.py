"""`smsops db ...` commands: upgrade and online backup."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bot.config.types import Config
from bot.errors import UserError
from storage import open_database
from storage.db import SCHEMA_VERSION


def register(sub: Any) -> None:
    """Add the db commands to the parser."""
    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", metavar="ACTION", required=True
    )
    up = db.add_parser("upgrade", help="create or migrate the database to the current schema")
    up.set_defaults(handler=upgrade)
    bk = db.add_parser("backup", help="copy the live database with SQLite's online backup")
    bk.add_argument("file", type=Path)
    bk.set_defaults(handler=backup)


async def upgrade(args: argparse.Namespace, config: Config) -> int:
    """Migrate the database forward and say where it stands."""
    db = await open_database(config.database, migrate=False)
    try:
        applied = await db.migrate()
    finally:
        await db.close()
    if applied:
        print(f"{config.database_path}: migrated to schema {SCHEMA_VERSION} (applied {applied})")
    else:
        print(f"{config.database_path}: schema {SCHEMA_VERSION}, up to date")
    return 0


async def backup(args: argparse.Namespace, config: Config) -> int:
    """Write a consistent copy of the database to FILE while it may be in use."""
    target: Path = args.file
    _check_backup_target(target)
    db = await open_database(config.database)
    try:
        await db.backup(target)
    finally:
        await db.close()
    print(f"backed up {config.database_path} to {target}")
    return 0


def _check_backup_target(target: Path) -> None:
    """Refuse, naming the problem, a target SQLite could only answer 'unable to open'."""
    if target.is_dir():
        raise UserError(f"{target}: is a directory; give a file name")
    folder = target.parent
    if not folder.exists():
        raise UserError(f"{target}: directory {folder} does not exist; create it first")
    if not folder.is_dir():
        raise UserError(f"{target}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{target}: no permission to create files in {folder}")
