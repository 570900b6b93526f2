"""The database thread: one thread owns the sqlite3 connection and runs every call, in order.

A call is a function of the connection, so a whole transaction can go as one call: one hop
between the event loop and the thread however many statements it holds. A call runs to its
end even if its awaiter is cancelled; callers that must not leave the connection inside a
transaction wait for it (storage.db does).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")
Conn = sqlite3.Connection  # what a storage function run in the database thread is handed

_Job = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DatabaseThread:
    """One thread and its one sqlite3 connection; `call` queues fn(conn, ...) for it (FIFO)."""

    def __init__(self, conn: Conn, jobs: queue.SimpleQueue[_Job | None], thread: threading.Thread):
        self.conn = conn  # handed to each call; only ever used inside the thread
        self.hops = 0  # calls queued so far (tests check that hot paths take one)
        self._jobs = jobs
        self._thread = thread

    @classmethod
    async def connect(cls, path: Path) -> DatabaseThread:
        """Start the thread and open the database file in it (autocommit, sqlite3.Row rows)."""
        jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        thread = threading.Thread(target=_serve, args=(jobs,), name="sqlite")
        thread.start()
        try:
            conn = await _submit(jobs, _connect, path)
        except BaseException:
            jobs.put(None)
            await asyncio.to_thread(thread.join)
            raise
        return cls(conn, jobs, thread)

    def call(
        self, fn: Callable[Concatenate[Conn, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Queue fn(conn, *args, **kwargs) for the thread; the future holds its result."""
        self.hops += 1
        return _submit(self._jobs, fn, self.conn, *args, **kwargs)

    async def close(self) -> None:
        """Close the connection after the calls already queued, and end the thread."""
        try:
            await self.call(Conn.close)
        finally:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)


def _connect(path: Path) -> Conn:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def _submit(
    jobs: queue.SimpleQueue[_Job | None], fn: Callable[..., T], *args: Any, **kwargs: Any
) -> asyncio.Future[T]:
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    jobs.put((future, fn, args, kwargs))
    return future


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    """The thread: run queued calls one after another until told to stop (None)."""
    while (job := jobs.get()) is not None:
        future, fn, args, kwargs = job
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # every outcome goes back to the awaiter
            _answer(future, _fail, exc)
        else:
            _answer(future, _succeed, result)
        del job, future, fn, args, kwargs


def _answer(future: asyncio.Future[Any], how: Callable[..., None], value: Any) -> None:
    with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is waiting any more
        future.get_loop().call_soon_threadsafe(how, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # its awaiter may have been cancelled meanwhile
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
