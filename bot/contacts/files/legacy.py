"""Legacy Word (.doc): converted by LibreOffice when installed, else read through antiword."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.contacts.files.docx import open_blocks, read_blocks
from bot.contacts.files.model import ContactFileError
from bot.contacts.files.textscan import Block, BlockSource

logger = logging.getLogger(__name__)

CONVERT_TIMEOUT = 120.0
NO_TOOL = "legacy Word .doc needs LibreOffice (soffice) or antiword installed; neither was found"


def _tail(text: bytes) -> str:
    lines = text.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def _run(path: Path, command: list[str], *, tool: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=CONVERT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ContactFileError(path, f"{tool} took over {CONVERT_TIMEOUT:.0f} s; gave up") from exc
    except OSError as exc:
        raise ContactFileError(path, f"could not run {tool} ({exc})") from exc


def blocks_via_office(office: str, path: Path) -> list[Block]:
    """Convert a .doc to .docx with LibreOffice in a temporary folder and read its blocks."""
    with tempfile.TemporaryDirectory(prefix="smsops-doc-") as tmp:
        profile = Path(tmp, "profile").as_uri()
        outdir = Path(tmp, "out")
        command = [office, f"-env:UserInstallation={profile}", "--headless", "--norestore"]
        command += ["--convert-to", "docx", "--outdir", str(outdir), str(path.resolve())]
        done = _run(path, command, tool="LibreOffice")
        converted = outdir / f"{path.stem}.docx"
        if done.returncode != 0 or not converted.is_file():
            problem = f"LibreOffice could not convert it ({_tail(done.stderr or done.stdout)})"
            raise ContactFileError(path, problem)
        return read_blocks(converted, shown=path)


def parse_antiword(text: str) -> list[Block]:
    """Split antiword's text output into paragraphs and tables (lines like "|a |b |")."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if paragraph:
            blocks.append(" ".join(paragraph))
            paragraph.clear()
        if table:
            blocks.append(list(table))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            if paragraph:
                flush()
            table.append([cell.strip() for cell in line[1:-1].split("|")])
        elif line:
            if table:
                flush()
            paragraph.append(line)
        else:
            flush()
    flush()
    return blocks


def blocks_via_antiword(antiword: str, path: Path) -> list[Block]:
    """Read a .doc's text with antiword and split it into blocks."""
    command = [antiword, "-m", "UTF-8.txt", "-w", "0", str(path.resolve())]
    done = _run(path, command, tool="antiword")
    if done.returncode != 0:
        raise ContactFileError(path, f"antiword could not read it ({_tail(done.stderr)})")
    return parse_antiword(done.stdout.decode("utf-8", "replace"))


def open_doc(path: Path) -> BlockSource:
    """Open a legacy .doc with whichever converter is on PATH (looked up at call time)."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office:
        logger.info("%s: converting with %s", path, office)
        return open_blocks(path, blocks_via_office(office, path))
    antiword = shutil.which("antiword")
    if antiword:
        logger.info("%s: reading with %s", path, antiword)
        return open_blocks(path, blocks_via_antiword(antiword, path))
    raise ContactFileError(path, NO_TOOL)
