"""Refuse zip-based Office files (xlsx, docx) that are corrupt or would unpack to too much.

The declared sizes in the central directory are checked first. They bind only if they are
true: zipfile's read() inflates everything a member's data holds before cutting it to the
declared size, so each deflated member is then inflated once, in bounded steps, and refused
if it holds more than it declares.
"""

from __future__ import annotations

import logging
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from bot.contacts.files.model import ContactFileError

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
#: Where a local header keeps its name and extra-field lengths, and its fixed size.
LOCAL_HEADER = struct.Struct("<4s22xHH")
STEP = MB


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
    _check_true_sizes(path, members, kind=kind, name=name)


def _check_true_sizes(path: Path, members: list[zipfile.ZipInfo], *, kind: str, name: Path) -> None:
    with path.open("rb") as handle:
        for member in members:
            if member.compress_type == zipfile.ZIP_STORED:
                continue  # reading is bounded by the bytes really stored
            if member.compress_type != zipfile.ZIP_DEFLATED:
                problem = f"part {member.filename} uses a compression Office files do not use"
                raise ContactFileError(name, f"not a valid {kind} file ({problem})")
            try:
                honest = _inflates_within(handle, member)
            except (zlib.error, struct.error, ValueError, OSError) as exc:
                logger.debug("%s: %s: %s", path, member.filename, exc)
                raise ContactFileError(name, f"not a valid {kind} file (corrupt zip)") from exc
            if not honest:
                raise ContactFileError(
                    name,
                    f"refusing to open: part {member.filename} unpacks to more than the "
                    f"{member.file_size} bytes it declares; possible zip bomb",
                )


def _inflates_within(handle: BinaryIO, member: zipfile.ZipInfo) -> bool:
    """Whether a deflated member's data unpacks to no more than its declared size."""
    handle.seek(member.header_offset)
    signature, name_length, extra_length = LOCAL_HEADER.unpack(handle.read(LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise ValueError("no local header where the directory points")
    handle.seek(member.header_offset + LOCAL_HEADER.size + name_length + extra_length)
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    left, produced = member.compress_size, 0
    while left > 0 and not inflate.eof:
        data = handle.read(min(STEP, left))
        if not data:
            break
        left -= len(data)
        while data and not inflate.eof:
            produced += len(inflate.decompress(data, STEP))
            if produced > member.file_size:
                return False
            data = inflate.unconsumed_tail
    return True
