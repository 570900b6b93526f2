"""What a modem writes, cut into lines, and the '> ' prompt, which has no line end.

Real dongles (Huawei E303, E3131) do not always leave the prompt alone at the end of a
read: it may be followed at once by a line end, an unsolicited line (`> \\r\\n^RSSI:14`),
or an unsolicited line glued to it (`> ^BOOT:...`). The prompt counts wherever it starts
a line; what follows it is read as ordinary lines.
"""

from __future__ import annotations

import re
from typing import Final

_LINE_END: Final = re.compile(rb"[\r\n]")


def split_lines(buffer: bytes) -> tuple[list[str], bytes]:
    """The complete lines in `buffer` (CR or LF ends one), decoded, and the unfinished rest."""
    *lines, rest = _LINE_END.split(buffer)
    return [line.decode("utf-8", errors="replace") for line in lines], rest


def strip_prompt(line: str) -> tuple[bool, str]:
    """Whether a line starts with the '> ' prompt, and the line stripped, without prompts."""
    text = line.strip()
    prompted = text.startswith(">")
    while text.startswith(">"):
        text = text[1:].lstrip()
    return prompted, text


def take_prompt(rest: bytes) -> bytes | None:
    """What follows a '> ' prompt that starts an unfinished line; None when there is none."""
    head = rest.lstrip()
    if not head.startswith(b">"):
        return None
    return head[1:].lstrip(b" ")
