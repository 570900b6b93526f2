"""What the fake modem records (parts taken, refusals) and the misbehaviour a test queues for it."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from gateway.modem.pdu import DecodedSubmit

logger = logging.getLogger(__name__)

PROMPT = "\r\n> "  # what a dongle writes after AT+CMGS=<n>: no line end
PROMPT_PAUSE = 0.05  # between the pieces of Faults.prompts


@dataclass(frozen=True, slots=True)
class Submitted:
    """One SMS-SUBMIT part the fake took, decoded with our own decoder."""

    mr: int
    pdu: str
    decoded: DecodedSubmit
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A PDU the fake read and refused (busy or +CMS ERROR), or lost by vanishing first."""

    number: str | None  # None: the port vanished before the PDU was written
    answer: str
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Faults:
    """Queued misbehaviour, consumed one send at a time."""

    cms: deque[int] = field(default_factory=deque)  # answer +CMS ERROR: n instead
    busy: deque[int] = field(default_factory=deque)  # answer +CME ERROR: n (14, 515)
    vanish_after_pdu: int = 0  # unplug once the PDU is in, without answering (n sends)
    vanish_before_prompt: int = 0  # unplug on AT+CMGS= before the prompt
    vanish_from: int = 0  # the vanish faults wait until this many parts were taken
    silent: int = 0  # take the PDU and never answer
    swallow_ok: int = 0  # answer +CMGS: <mr> but never the OK after it (n sends)
    swallow_ok_from: int = 0  # swallow_ok waits until this many parts were taken
    # per destination number, answers used instead of +CMGS on its next sends, in order
    # (e.g. "+CMS ERROR: 500", "+CME ERROR: 14"); more precise than the queues above
    number_errors: dict[str, deque[str]] = field(default_factory=dict)
    replug_after: float | None = None  # after a vanish fault, come back after this many seconds
    # what the next AT+CMGS= get instead of a bare PROMPT, as real Huawei E303 / E3131 do:
    # e.g. (PROMPT + "\r\n^RSSI:14\r\n",) or (PROMPT + "^BOOT:...\r\n",) in one write; further
    # pieces follow PROMPT_PAUSE apart (a line cut across reads); ("",) never prompts
    prompts: deque[tuple[str, ...]] = field(default_factory=deque)
