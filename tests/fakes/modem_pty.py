"""A pseudo-terminal served from a thread, reached through a symlink that can vanish and return.

The driver under test opens `link` (a symlink in tmp_path) with pyserial-asyncio, as it
would open /dev/ttyUSB2. `unplug()` closes the pty and removes the link, as yanking a
dongle does; `replug()` makes a new pty and points the link at it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


class PtyPort:
    """Serves the master side of a pty in a thread; subclasses implement `on_data`."""

    def __init__(self, link: Path):
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None
        self._calls: queue.Queue[tuple[Callable[[], object], threading.Event]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._running = False
        self._write_lock = threading.RLock()
        self.plugged = False
        self.plug_count = 0

    # -- life cycle (call from the test) ------------------------------------------------

    def start(self) -> None:
        """Plug in and start serving."""
        self._running = True
        self._plug()
        self._thread = threading.Thread(target=self._loop, name="fake-modem", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Unplug and stop the thread."""
        if self._thread is None:
            return
        self.call(self._unplug)
        self._running = False
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    def unplug(self) -> None:
        """Close the pty and remove the link: the port vanishes."""
        self.call(self._unplug)

    def replug(self) -> None:
        """A new pty behind the same link."""
        self.call(self._plug)

    def call(self, fn: Callable[[], object]) -> None:
        """Run fn in the port's thread and wait for it."""
        if self._thread is None or threading.current_thread() is self._thread:
            fn()
            return
        done = threading.Event()
        self._calls.put((fn, done))
        os.write(self._wake_w, b"x")
        if not done.wait(5):
            raise TimeoutError("fake modem thread did not answer")

    # -- in the thread ------------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        """Bytes the driver wrote."""
        raise NotImplementedError

    def on_plug(self) -> None:
        """Called after a (re)plug, before the driver can connect."""

    def write(self, data: bytes) -> None:
        """Send bytes to the driver (dropped while unplugged)."""
        with self._write_lock:
            if self._master is None:
                return
            try:
                os.write(self._master, data)
            except OSError as exc:
                logger.debug("fake modem write failed: %s", exc)

    def _plug(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline echo before the driver sets raw mode
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)
        self.plugged = True
        self.plug_count += 1
        self.on_plug()

    def _unplug(self) -> None:
        with self._write_lock:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            self.plugged = False

    def _loop(self) -> None:
        while self._running:
            fds = [self._wake_r] + ([self._master] if self._master is not None else [])
            try:
                readable, _, _ = select.select(fds, [], [], 0.5)
            except (OSError, ValueError):
                continue
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
                while not self._calls.empty():
                    fn, done = self._calls.get_nowait()
                    try:
                        fn()
                    except Exception:
                        logger.exception("fake modem call failed")
                    finally:
                        done.set()
            master = self._master
            if master is not None and master in readable:
                try:
                    data = os.read(master, 4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue  # EIO while nobody holds the slave
                if data:
                    try:
                        self.on_data(data)
                    except Exception:
                        logger.exception("fake modem failed on %r", data)


class ScriptedModem(PtyPort):
    """Replays an AT transcript: checks each command the driver sends, writes the reply bytes.

    Transcript lines: '> CMD' (the driver sends CMD + CR), '< BYTES' (the modem writes
    BYTES, Python escapes allowed), '# comment'. Mismatches are kept in `errors`.
    """

    def __init__(self, link: Path, transcript: str):
        super().__init__(link)
        self.steps: list[tuple[str, str]] = []
        for raw in transcript.splitlines():
            if raw.startswith(("> ", "< ")):
                text = raw[2:]
                if raw[0] == "<":
                    text = text.encode("latin-1").decode("unicode_escape")
                self.steps.append((raw[0], text))
        self.position = 0
        self.errors: list[str] = []
        self.received: list[str] = []
        self._buffer = b""

    @property
    def finished(self) -> bool:
        """True when every step was played."""
        return self.position >= len(self.steps)

    def on_data(self, data: bytes) -> None:
        """Match complete command lines against the script."""
        self._buffer += data.replace(b"\x1b", b"")
        while b"\r" in self._buffer:
            line, self._buffer = self._buffer.split(b"\r", 1)
            self._command(line.decode("latin-1"))

    def _command(self, line: str) -> None:
        self.received.append(line)
        if self.finished:
            self.errors.append(f"unexpected command after the script ended: {line!r}")
            return
        kind, text = self.steps[self.position]
        if kind != ">" or text != line:
            self.errors.append(f"step {self.position}: expected {text!r}, got {line!r}")
        self.position += 1
        while not self.finished and self.steps[self.position][0] == "<":
            self.write(self.steps[self.position][1].encode("latin-1"))
            self.position += 1
