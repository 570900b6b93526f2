"""The jobs the task that owns a modem's port takes from its queue, one at a time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.modem.at.channel import ATChannel
from gateway.modem.sending import Sent


@dataclass(slots=True)
class SendJob:
    """Send one text to one number; the caller awaits `future`."""

    phone: str
    text: str
    future: asyncio.Future[Sent]


@dataclass(frozen=True, slots=True)
class ReadJob:
    """Read (and handle) the message +CMTI / +CDSI announced."""

    storage: str
    index: int


@dataclass(frozen=True, slots=True)
class DirectJob:
    """A +CDS / +CMT PDU that came with its URC: nothing to read."""

    name: str
    pdu: str
    length: int | None


@dataclass(frozen=True, slots=True)
class Closed:
    """The channel's port went away."""

    channel: ATChannel


Job = SendJob | ReadJob | DirectJob | Closed


def settle(job: SendJob, value: Sent | BaseException) -> None:
    """Answer a send job's caller, unless it stopped waiting (cancelled)."""
    if job.future.done():
        return
    if isinstance(value, BaseException):
        job.future.set_exception(value)
    else:
        job.future.set_result(value)
