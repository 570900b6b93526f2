"""Header detection: which columns hold names, phones and groups; how a row becomes a contact."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import Enum
from functools import lru_cache

from bot.contacts.files.model import ContactRow

#: How many leading rows are searched for the header row (title lines may come first).
HEADER_SEARCH_ROWS = 10
#: A run of more blank cells than this ends a row's table: a stray cell far right is no column.
COLUMN_GAP = 16
#: The names a "no phone column" message says were looked for.
LOOKED_FOR = "phone, mobile, msisdn, tel, telephone, Phone 1 - Value"


class Role(Enum):
    """What a column holds."""

    NAME = "name"
    FIRST = "first"
    MIDDLE = "middle"
    LAST = "last"
    PHONE = "phone"
    CLUB = "club"
    DEPT = "dept"
    EXTRA = "extra"


_ROLE_NAMES: dict[Role, tuple[str, ...]] = {
    Role.NAME: (
        "name",
        "names",
        "full name",
        "full names",
        "fullname",
        "display name",
        "contact name",
        "student name",
        "student names",
        "member name",
    ),
    Role.FIRST: ("first name", "firstname", "first", "given name", "givenname", "other names"),
    Role.MIDDLE: ("middle name", "middlename", "middle", "additional name"),
    Role.LAST: ("last name", "lastname", "last", "surname", "family name", "familyname"),
    Role.CLUB: ("group", "groups", "club", "clubs", "group membership", "labels", "categories"),
    Role.DEPT: ("department", "departments", "dept"),
}
_EXACT = {name: role for role, names in _ROLE_NAMES.items() for name in names}

_PHONE_WORDS = {"phone", "phones", "mobile", "msisdn", "tel", "telephone", "cell", "cellphone"}
_PHONE_WORDS |= {"whatsapp", "cellular"}
_PHONE_TAIL = {"number", "numbers", "no", "nos", "num"}
_NOT_PHONE = {"fax", "pager", "type", "label", "telex", "isdn", "callback", "name", "email"}
_GOOGLE_PHONE = re.compile(r"phone \d+ value")
_PHONE_SPLIT = re.compile(r"\s*(?::::|/|;|\n)\s*")
_GROUP_SPLIT = re.compile(r"\s*(?::::|;|,|\n)\s*")
_GOOGLE_SYSTEM_LABELS = {"mycontacts", "starred", "friends", "family", "coworkers"}
_KIND_PREFIX = re.compile(r"^([a-z][a-z0-9_]*)\s*:\s*")


def normalise_header(header: str) -> str:
    """Return a header lower-cased, punctuation turned to single spaces, and trimmed."""
    return re.sub(r"[\W_]+", " ", header.casefold()).strip()


def snake_case(header: str) -> str:
    """Return a header as a snake_case key, e.g. "Admission No" -> "admission_no"."""
    return normalise_header(header).replace(" ", "_")


def _is_phone(norm: str) -> bool:
    if _GOOGLE_PHONE.fullmatch(norm):
        return True
    words = norm.split()
    if not words or _NOT_PHONE.intersection(words):
        return False
    popped = False
    while words and (words[-1].isdigit() or words[-1] in _PHONE_TAIL):
        words.pop()
        popped = True
    if not words or len(words) > 4:
        return False
    return words[-1] in _PHONE_WORDS or (popped and words[-1] == "contact")


def classify(header: str) -> Role:
    """Return the role of a column from its header text."""
    norm = normalise_header(header)
    if _is_phone(norm):
        return Role.PHONE
    return _EXACT.get(norm, Role.EXTRA)


def split_phones(value: str) -> list[str]:
    """Split a cell holding several numbers (" ::: ", "/", ";" or new lines) into raw numbers."""
    if ":" not in value and "/" not in value and ";" not in value and "\n" not in value:
        return [value.strip()] if value.strip() else []
    return [part for part in _PHONE_SPLIT.split(value.strip()) if part]


@lru_cache(maxsize=4096)
def group_tag(kind: str, value: str) -> str | None:
    """Return "kind:value" for one group value, lower-cased and dashed; None for system labels."""
    text = value.strip()
    if text.startswith("*"):
        text = text.lstrip("* ").strip()
        if text.casefold().replace(" ", "") in _GOOGLE_SYSTEM_LABELS:
            return None
    text = text.lower()
    prefixed = _KIND_PREFIX.match(text)
    if prefixed:
        text = f"{prefixed.group(1)}:{text[prefixed.end() :]}"
    text = re.sub(r"\s+", "-", text)
    if not text or text.endswith(":"):
        return None
    if prefixed:
        return text
    return f"{kind}:{text}"


def _dedup(items: list[str]) -> tuple[str, ...]:
    return tuple(items) if len(items) < 2 else tuple(dict.fromkeys(items))


def _joined(values: Sequence[str], columns: Sequence[int], width: int) -> str:
    if not columns:
        return ""
    if len(columns) == 1:
        return values[columns[0]].strip() if columns[0] < width else ""
    return " ".join(v for i in columns if i < width and (v := values[i].strip()))


class HeaderMap:
    """The roles of a header row's columns, and the extras key of each other column."""

    def __init__(self, headers: Sequence[str], roles: Sequence[Role], keys: Sequence[str]) -> None:
        self.headers = tuple(headers)
        self.roles = tuple(roles)
        self.keys = tuple(keys)
        columns = list(enumerate(self.roles))
        self._phones = [i for i, role in columns if role is Role.PHONE]
        self._groups = [(i, role.value) for i, role in columns if role in (Role.CLUB, Role.DEPT)]
        self._name, self._first, self._middle, self._last = (
            [i for i, role in columns if role is part]
            for part in (Role.NAME, Role.FIRST, Role.MIDDLE, Role.LAST)
        )
        self._extras = [
            (i, self.keys[i]) for i, role in columns if role in (Role.EXTRA, Role.MIDDLE)
        ]

    def __repr__(self) -> str:
        pairs = ", ".join(
            f"{h or '?'}={r.value}" for h, r in zip(self.headers, self.roles, strict=True)
        )
        return f"HeaderMap({pairs})"

    @classmethod
    def from_headers(cls, headers: Sequence[str]) -> HeaderMap:
        """Build a map from a header row's cells."""
        cleaned = tuple(h.strip() for h in headers)
        roles = tuple(classify(h) for h in cleaned)
        keys: list[str] = []
        seen: set[str] = set()
        for index, header in enumerate(cleaned, start=1):
            key = snake_case(header) or f"column_{index}"
            unique, n = key, 2
            while unique in seen:
                unique, n = f"{key}_{n}", n + 1
            seen.add(unique)
            keys.append(unique)
        return cls(cleaned, roles, keys)

    @classmethod
    def headerless(cls, width: int, phone_columns: Iterable[int]) -> HeaderMap:
        """Build a map for a header-less file: phones in given columns, name in the first other."""
        phones = set(phone_columns)
        roles: list[Role] = []
        for index in range(width):
            if index in phones:
                roles.append(Role.PHONE)
            elif Role.NAME not in roles:
                roles.append(Role.NAME)
            else:
                roles.append(Role.EXTRA)
        keys = [f"column_{i}" for i in range(1, width + 1)]
        return cls(["" for _ in range(width)], roles, keys)

    def build(self, values: Sequence[str], *, row: int, where: str = "") -> ContactRow | None:
        """Turn one row's cell texts into a ContactRow; None when every cell is blank."""
        width = len(values)

        def cell(index: int) -> str:
            return values[index].strip() if index < width else ""

        phones: list[str] = []
        for index in self._phones:
            if value := cell(index):
                phones.extend(split_phones(value))
        groups: list[str] = []
        for index, kind in self._groups:
            if value := cell(index):
                groups.extend(
                    t for item in _GROUP_SPLIT.split(value) if (t := group_tag(kind, item))
                )
        name = _joined(values, self._name, width)
        first = _joined(values, self._first, width)
        middle = _joined(values, self._middle, width)
        last = _joined(values, self._last, width)
        extras = {key: value for index, key in self._extras if (value := cell(index))}
        for index in range(len(self.roles), width):
            if value := values[index].strip():
                extras[f"column_{index + 1}"] = value
        if not (phones or groups or name or first or last or extras):
            return None
        return ContactRow(
            row=row,
            where=where,
            name=name or " ".join(p for p in (first, middle, last) if p),
            first_name=first,
            last_name=last,
            phones=_dedup(phones),
            groups=_dedup(groups),
            extras=extras,
        )


def find_header(rows: Sequence[Sequence[str]]) -> int | None:
    """Return the index of the first row (of at most HEADER_SEARCH_ROWS) with a phone header."""
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if any(classify(cell) is Role.PHONE for cell in cells if cell and cell.strip()):
            return index
    return None


def table_width(cells: Sequence[str], *, gap: int = COLUMN_GAP) -> int:
    """Return how many leading cells form the table: none after a run of over `gap` blanks."""
    width = blanks = 0
    for index, cell in enumerate(cells):
        if cell.strip():
            width, blanks = index + 1, 0
        elif width:
            blanks += 1
            if blanks > gap:
                break
    return width


def first_nonblank(rows: Sequence[Sequence[str]]) -> Sequence[str]:
    """Return the first row with any non-blank cell (what a header was expected to be)."""
    for cells in rows:
        if any(cell.strip() for cell in cells):
            return cells
    return ()


def no_phone_column(found: Sequence[str]) -> str:
    """Return the "no phone column" problem text listing what the header did hold."""
    listed = ", ".join(c.strip() for c in found if c.strip()) or "nothing"
    return f"no phone column (looked for {LOOKED_FOR}; found: {listed})"


_PHONE_CELL = re.compile(r"[+(]*\d[\d()\-. \u00a0]*\d\)?")


def looks_like_phone(cell: str) -> bool:
    """Whether a whole cell is one or more phone numbers (9-15 digits each) and nothing else."""
    parts = split_phones(cell)
    return bool(parts) and all(
        _PHONE_CELL.fullmatch(p) and 9 <= sum(c.isdigit() for c in p) <= 15 for p in parts
    )


def locate_header(rows: Sequence[Sequence[str]]) -> tuple[int, HeaderMap] | None:
    """Find where data starts and how to read it: after a phone header, or a headerless list.

    Returns (index of the first data row, map), or None when the leading rows hold neither a
    phone header nor a row whose cells are phone numbers.
    """
    index = find_header(rows)
    if index is not None:
        return index + 1, HeaderMap.from_headers(rows[index])
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if not any(c.strip() for c in cells):
            continue
        phones = [i for i, c in enumerate(cells) if c.strip() and looks_like_phone(c)]
        if not phones:
            return None
        return index, HeaderMap.headerless(len(cells), phones)
    return None
