"""A small typed reader over parsed TOML that collects problems and notices unknown keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


class Reader:
    """Reads one TOML table, records every problem with its key path, and tracks used keys."""

    def __init__(self, data: Any, problems: list[str], path: str = ""):
        self.path = path
        self.problems = problems
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.problem("", "must be a table")
        self._used: set[str] = set()
        self._children: list[Reader] = []

    def key(self, name: str) -> str:
        """The full dotted path of a key in this table."""
        return f"{self.path}.{name}" if self.path else name

    def problem(self, name: str, message: str) -> None:
        """Record a problem for a key of this table."""
        where = self.key(name) if name else (self.path or "(top level)")
        self.problems.append(f"{where}: {message}")

    def has(self, name: str) -> bool:
        """Whether the key is present."""
        return name in self.data

    def keys(self) -> list[str]:
        """The keys present in this table."""
        return list(self.data)

    def _get(self, name: str, kind: type | tuple[type, ...], kind_name: str, default: Any) -> Any:
        self._used.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.problem(name, "missing")
                return None
            return default
        if isinstance(value, bool) and kind is not bool:
            self.problem(name, f"must be {kind_name}, not a boolean")
            return None if default is _MISSING else default
        if not isinstance(value, kind):
            self.problem(name, f"must be {kind_name}, got {type(value).__name__}")
            return None if default is _MISSING else default
        return value

    def text(self, name: str, default: Any = _MISSING, *, nonempty: bool = True) -> Any:
        """A string value; empty counts as missing unless nonempty is False."""
        value = self._get(name, str, "a string", default)
        if nonempty and value == "" and self.has(name):
            self.problem(name, "missing (empty)")
            return None if default is _MISSING else default
        return value

    def integer(self, name: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        """An integer value, optionally bounded below."""
        value = self._get(name, int, "an integer", default)
        if isinstance(value, int) and minimum is not None and value < minimum:
            self.problem(name, f"must be at least {minimum}")
        return value

    def number(self, name: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        """A number value (integers accepted), optionally bounded below."""
        value = self._get(name, (int, float), "a number", default)
        if isinstance(value, int | float) and minimum is not None and value < minimum:
            self.problem(name, f"must be at least {minimum}")
        return None if value is None else float(value)

    def flag(self, name: str, default: Any = _MISSING) -> Any:
        """A boolean value."""
        return self._get(name, bool, "true or false", default)

    def strings(self, name: str, default: Any = _MISSING) -> Any:
        """A list of strings."""
        value = self._get(name, list, "a list of strings", default)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            self.problem(name, "must be a list of strings")
            return default if default is not _MISSING else []
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        """A string that must be one of `choices`."""
        value = self.text(name, default)
        if isinstance(value, str) and value not in choices:
            self.problem(name, f"must be one of {', '.join(choices)}")
        return value

    def convert(self, name: str, fn: Callable[[Any], T], default: Any = _MISSING) -> T | None:
        """Convert a raw value with fn; a ValueError becomes a problem."""
        self._used.add(name)
        if name not in self.data:
            if default is _MISSING:
                self.problem(name, "missing")
                return None
            return default  # type: ignore[no-any-return]
        try:
            return fn(self.data[name])
        except (ValueError, TypeError) as exc:
            self.problem(name, str(exc))
            return None

    def table(self, name: str, *, required: bool = False) -> Reader | None:
        """A sub-table reader, or None when absent (a problem when required)."""
        self._used.add(name)
        if name not in self.data:
            if required:
                self.problem(name, "missing")
            return None
        child = Reader(self.data[name], self.problems, self.key(name))
        self._children.append(child)
        return child

    def tables(self, name: str) -> dict[str, Reader]:
        """A table of tables, e.g. [people.<id>], as readers by id."""
        outer = self.table(name)
        if outer is None:
            return {}
        result: dict[str, Reader] = {}
        for key in outer.keys():
            child = outer.table(key)
            if child is not None:
                result[key] = child
        return result

    def raw(self, name: str) -> Any:
        """The raw value, marked as used."""
        self._used.add(name)
        return self.data.get(name)

    def report_unknown(self) -> None:
        """Record every key that nobody read, recursively: usually a typo."""
        for name in self.data:
            if name not in self._used:
                self.problem(name, "unknown key")
        for child in self._children:
            child.report_unknown()
