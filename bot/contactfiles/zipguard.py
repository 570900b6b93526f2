"""Refuse zip-based Office files (xlsx, docx) that are corrupt or would unpack to too much.

The check reads only the zip's central directory. Python's zipfile never inflates a member
past the size the directory declares, so these declared sizes bound what a reader unpacks.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from bot.contactfiles.model import ContactFileError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
#: Most a whole file may unpack to.
MAX_TOTAL_BYTES = 200 * MB
#: Most one member may expand relative to its compressed size, once it is over RATIO_FLOOR.
MAX_RATIO = 100
RATIO_FLOOR = 10 * MB
#: Most members an Office file may hold.
MAX_MEMBERS = 10_000
#: How old binary Office files (and password-protected new ones) start.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NEW_SUFFIX = {"Excel": ".xlsx", "Word": ".docx"}


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB"


def check_zip(path: Path, *, kind: str, shown: Path | None = None) -> None:
    """Raise ContactFileError if path is not a sound zip or looks like a zip bomb.

    Messages name ``shown`` (default: path), e.g. the .doc a temporary .docx was made from.
    """
    name = shown or path
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        logger.debug("%s: bad zip: %s", path, exc)
        with path.open("rb") as handle:
            if handle.read(8) == OLE_MAGIC:
                problem = f"not a valid {kind} file (it is password-protected or in the old "
                problem += f"binary format; save it again as {NEW_SUFFIX.get(kind, 'a new file')})"
                raise ContactFileError(name, problem) from exc
        raise ContactFileError(name, f"not a valid {kind} file (corrupt zip)") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise ContactFileError(name, f"not a valid {kind} file ({exc})") from exc
    if len(members) > MAX_MEMBERS:
        raise ContactFileError(
            name, f"refusing to open: {len(members)} parts inside (limit {MAX_MEMBERS})"
        )
    total = sum(member.file_size for member in members)
    if total > MAX_TOTAL_BYTES:
        raise ContactFileError(
            name,
            f"refusing to open: it would unpack to {_mb(total)} "
            f"(limit {_mb(MAX_TOTAL_BYTES)}); possible zip bomb",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise ContactFileError(
                name,
                f"refusing to open: part {member.filename} expands {ratio:.0f}:1 "
                f"to {_mb(member.file_size)} (limit {MAX_RATIO}:1); possible zip bomb",
            )
