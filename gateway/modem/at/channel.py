"""The AT channel: reads lines, serialises commands, and routes unsolicited result codes.

One reader task reads the port. Every line is either part of the answer to the one
command in flight, its final result (OK, ERROR, +CME ERROR, +CMS ERROR, COMMAND NOT
SUPPORT), an echo of it, or an unsolicited result code (URC) such as ^RSSI or +CMTI,
which goes to `on_urc` and never into an answer, wherever it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from gateway.modem.at.errors import (
    ATError,
    ATTimeout,
    CmeError,
    CmsError,
    CommandError,
    PortClosed,
    error_code,
)
from gateway.modem.at.lines import split_lines, strip_prompt, take_prompt
from gateway.modem.at.urc import URC_NAMES, URC_WITH_PDU, Urc, line_name

logger = logging.getLogger(__name__)

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
PortOpener = Callable[[str, int], Awaitable[Streams]]


async def open_serial(port: str, baudrate: int) -> Streams:
    """Open a serial port with pyserial-asyncio."""
    import serial_asyncio

    reader, writer = await serial_asyncio.open_serial_connection(
        url=port,
        baudrate=baudrate,
        exclusive=True,  # a second program on the port garbles both
    )
    return reader, writer


CTRL_Z: Final = b"\x1a"
ESC: Final = b"\x1b"
_HEX: Final = re.compile("[0-9A-Fa-f]+")
ERROR_RESULTS: Final = frozenset({"ERROR", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS"})


@dataclass(slots=True)
class _Pending:
    command: str
    expect: frozenset[str]
    done: asyncio.Future[list[str]]
    prompt: asyncio.Future[None] | None = None
    data: str | None = None
    data_written: bool = False
    lines: list[str] = field(default_factory=list)


class ATChannel:
    """One modem port: a reader task, one command at a time, URCs routed to a callback."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_urc: Callable[[Urc], None],
        name: str = "modem",
    ):
        self.name = name
        self._reader = reader
        self._writer = writer
        self._on_urc = on_urc
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._buffer = b""
        self._urc_waiting_pdu: str | None = None
        self._urc_head = ""
        self._task: asyncio.Task[None] | None = None
        self._closed: str | None = None
        self.stray_lines = 0
        self.payloads = 0  # PDUs written (or being written): the modem may have sent them

    @property
    def closed(self) -> bool:
        """True once the port is gone or closed."""
        return self._closed is not None

    def start(self) -> None:
        """Start the reader task."""
        self._task = asyncio.create_task(self._read_loop(), name=f"at-reader-{self.name}")

    async def wait_closed(self) -> None:
        """Return when the reader has stopped (the port went away or was closed)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop reading and close the port."""
        self._mark_closed("closed")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            self._writer.close()

    async def settle(self, seconds: float) -> None:
        """Wait a moment and throw away whatever arrived (stale answers, a pending prompt)."""
        await asyncio.sleep(seconds)
        self._buffer = b""

    async def write_raw(self, data: bytes) -> None:
        """Write bytes outside any command (e.g. ESC to cancel a stale prompt)."""
        await self._write(data)

    async def command(
        self, command: str, *, within: float, expect: Sequence[str] = ()
    ) -> list[str]:
        """Run one command; return its information lines; raise ATError on failure."""
        async with self._lock:
            pending = self._begin(command, expect)
            try:
                await self._write(command.encode("ascii") + b"\r")
                return await self._wait(pending, within=within, written=False)
            finally:
                if not pending.done.done():
                    pending.done.cancel()
                self._pending = None

    async def command_with_pdu(
        self, command: str, pdu: str, *, prompt_within: float, within: float
    ) -> list[str]:
        """Run AT+CMGS-style: command, wait for '> ', write PDU and Ctrl-Z, wait for result.

        PortClosed and ATTimeout carry `written=True` once the PDU and Ctrl-Z were
        written: the modem may then have sent the message.
        """
        async with self._lock:
            pending = self._begin(command, ())
            loop = asyncio.get_running_loop()
            pending.prompt = loop.create_future()
            pending.data = pdu
            try:
                await self._write(command.encode("ascii") + b"\r")
                waiting: list[asyncio.Future[Any]] = [pending.prompt, pending.done]
                await asyncio.wait(
                    waiting,
                    timeout=prompt_within,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if pending.done.done():  # answered without a prompt: an error, or stale
                    if pending.prompt.done():  # the prompt came too: leave it, send nothing
                        await self._write(ESC)
                    pending.prompt.cancel()
                    result = pending.done.result()
                    raise ATError(f"{command}: no '> ' prompt (answered {result!r})")
                if not pending.prompt.done():
                    await self._write(ESC)  # leave the prompt state if it comes late
                    raise ATTimeout(f"{command}: no '> ' prompt within {prompt_within}s")
                await self._write(pdu.encode("ascii") + CTRL_Z, payload=True)
                return await self._wait(pending, within=within, written=True)
            except PortClosed as exc:
                raise PortClosed(str(exc), written=pending.data_written) from exc
            finally:
                if pending.prompt is not None and not pending.prompt.done():
                    pending.prompt.cancel()
                if not pending.done.done():
                    pending.done.cancel()
                self._pending = None

    def _begin(self, command: str, expect: Sequence[str]) -> _Pending:
        if self._closed is not None:
            raise PortClosed(f"{self.name}: port {self._closed}")
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        pending = _Pending(command, frozenset(e.upper() for e in expect), done)
        self._pending = pending
        return pending

    async def _wait(self, pending: _Pending, *, within: float, written: bool) -> list[str]:
        try:
            async with asyncio.timeout(within):  # not wait_for: it can swallow a cancel
                return await asyncio.shield(pending.done)
        except TimeoutError:
            raise ATTimeout(
                f"{self.name}: {pending.command}: no final result within {within}s",
                written=written,
                lines=pending.lines,  # e.g. +CMGS: <mr> when only the OK went missing
            ) from None

    async def _write(self, data: bytes, *, payload: bool = False) -> None:
        if self._closed is not None:
            raise PortClosed(f"{self.name}: port {self._closed}")
        if payload:
            self.payloads += 1  # from here on the modem may send it
            if self._pending is not None:
                self._pending.data_written = True
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ConnectionError, RuntimeError) as exc:
            self._mark_closed(f"failed on write ({exc})")
            raise PortClosed(f"{self.name}: write failed: {exc}") from exc

    async def _read_loop(self) -> None:
        reason = "closed by the modem (EOF)"
        try:
            while True:
                chunk = await self._reader.read(4096)
                if not chunk:
                    break
                self._feed(chunk)
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except Exception as exc:  # SerialException / OSError when the dongle vanishes
            reason = f"lost ({type(exc).__name__}: {exc})"
        finally:
            self._mark_closed(reason)

    def _mark_closed(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
            if reason != "closed":
                logger.warning("%s: port %s", self.name, reason)
        pending = self._pending
        if pending is not None and not pending.done.done():
            pending.done.set_exception(PortClosed(f"{self.name}: port {self._closed}"))
            pending.done.exception()  # mark retrieved: the waiter may be gone

    def _feed(self, chunk: bytes) -> None:
        lines, self._buffer = split_lines(self._buffer + chunk)
        for line in lines:
            self._line(line)
        prompt, after = self._awaited_prompt(), take_prompt(self._buffer)
        if prompt is not None and after is not None:
            self._buffer = after  # the "> " prompt has no line end; keep what follows it
            prompt.set_result(None)

    def _awaited_prompt(self) -> asyncio.Future[None] | None:
        pending = self._pending
        if pending is None or pending.prompt is None or pending.prompt.done():
            return None
        return pending.prompt

    def _line(self, raw: str) -> None:
        prompted, text = strip_prompt(raw)  # "> " then a line end, a URC, or a late line
        if prompted and (prompt := self._awaited_prompt()) is not None:
            prompt.set_result(None)
        if not text:
            return
        if self._urc_waiting_pdu is not None:
            name, self._urc_waiting_pdu = self._urc_waiting_pdu, None
            if _HEX.fullmatch(text):
                self._emit(Urc(name, self._urc_head, text))
                return
            logger.warning("%s: %s came without its PDU line", self.name, name)
        name = line_name(text)
        pending = self._pending
        if name in URC_NAMES and (pending is None or name not in pending.expect):
            if name in URC_WITH_PDU:
                self._urc_waiting_pdu, self._urc_head = name, text
            else:
                self._emit(Urc(name, text))
            return
        if pending is None or pending.done.done():
            self.stray_lines += 1
            logger.debug("%s: stray line %r", self.name, text)
            return
        if text.upper() == pending.command.upper() or (
            pending.data is not None and text.rstrip("\x1a") == pending.data
        ):
            return  # echo (ATE0 not yet in force, or a modem that ignores it)
        self._result(pending, text)

    def _result(self, pending: _Pending, text: str) -> None:
        upper = text.upper()
        if upper == "OK":
            pending.done.set_result(pending.lines)
        elif upper in ERROR_RESULTS:
            pending.done.set_exception(CommandError(pending.command, text))
        elif upper.startswith("+CME ERROR"):
            pending.done.set_exception(CmeError(pending.command, error_code(text)))
        elif upper.startswith("+CMS ERROR"):
            pending.done.set_exception(CmsError(pending.command, error_code(text)))
        else:
            pending.lines.append(text)

    def _emit(self, urc: Urc) -> None:
        try:
            self._on_urc(urc)
        except Exception:
            logger.exception("%s: handler for %s failed", self.name, urc.name)
