"""Shared types of the contact-file readers: a row, the error, and a streaming source."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

ProgressUnit = Literal["bytes", "rows", "blocks"]

#: Most rows one Excel sheet or Word table may hold: Excel's own limit.
MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class ContactRow:
    """One contact as written in a source file; phone numbers are kept raw."""

    row: int
    where: str = ""
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    phones: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    extras: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.where:
            object.__setattr__(self, "where", f"row {self.row}")


class ContactFileError(Exception):
    """A contact file that cannot be read, with one message naming the file and the problem."""

    def __init__(self, path: Path | str, problem: str, *, where: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.where = where
        super().__init__(f"{display_name(self.path)}: {where + ': ' if where else ''}{problem}")


def display_name(path: Path) -> str:
    """Return the short name used for a file in messages (a directory gets a trailing slash)."""
    name = path.name or str(path)
    return f"{name}/" if path.is_dir() else name


class ContactSource(ABC):
    """An opened contact file: validated up front, then iterated to stream rows."""

    unit: ProgressUnit = "rows"

    def __init__(self, path: Path, *, total_hint: int | None) -> None:
        self.path = path
        self.total_hint = total_hint
        self.closed = False

    @abstractmethod
    def __iter__(self) -> Iterator[ContactRow]:
        """Yield the rows of the file, in file order."""

    @abstractmethod
    def progress(self) -> int:
        """Return how far reading has got, in the same unit as total_hint."""

    def close(self) -> None:
        """Release the file handle or workbook held by this source."""
        self.closed = True

    def error(self, problem: str, *, where: str | None = None) -> ContactFileError:
        """Build a ContactFileError for this source's file."""
        return ContactFileError(self.path, problem, where=where)

    def __enter__(self) -> ContactSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
