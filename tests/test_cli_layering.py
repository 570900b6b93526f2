"""Imports point one way: handlers -> bot -> storage and gateway, checked on the source with ast."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

import pytest

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

# folder -> the top-level packages its modules must never import
FORBIDDEN = {
    "bot": {"handlers"},
    "gateway": {"bot", "handlers"},
    "storage": {"bot", "handlers"},
    "handlers/chat": {"gateway", "storage"},  # chat fronts talk to the core only
}
# the database engine stays inside storage/: no other room imports it
ENGINES = {"sqlite3", "aiosqlite", "asyncpg"}
_DYNAMIC = {"import_module", "__import__"}


def module_name(path: Path) -> str:
    """Dotted module name of a file under ROOT ('bot/__init__.py' -> 'bot')."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, *, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted name) for every import anywhere in the source, relative ones resolved.

    Imports inside functions and under TYPE_CHECKING count, and so do importlib.import_module
    and __import__ called with a literal name: hiding an import does not make it go away.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, name))
            if not node.module:  # `from . import x` imports the module x
                found += [(node.lineno, ".".join([*base, a.name])) for a in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            target = first.value if isinstance(first, ast.Constant) else None
            if called in _DYNAMIC and isinstance(target, str):
                found.append((node.lineno, target))
    return found


def violations(package: str, banned: set[str] | None = None) -> list[str]:
    """'file:line imports name' for each import of a package that `package` must not import."""
    banned = FORBIDDEN[package] if banned is None else banned
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = module_name(path)
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        for line, imported in imported_names(source, module=name, is_package=is_package):
            if imported.split(".")[0] in banned:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_back_toward_the_edges(package: str) -> None:
    modules = list((ROOT / package).rglob("*.py"))
    assert len(modules) > 3, f"found no modules under {package}/"
    assert violations(package) == []
    logger.info("%s/: %d modules, none imports %s", package, len(modules), FORBIDDEN[package])


@pytest.mark.parametrize("package", ["bot", "handlers", "gateway"])
def test_only_storage_knows_the_database_engine(package: str) -> None:
    assert violations(package, ENGINES) == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import handlers.routes\n", "bot.server", "handlers.routes"),
        ("def f():\n    from handlers.chat import console\n", "bot.cli.program", "handlers.chat"),
        ("from ..handlers import routes\n", "bot.server", "handlers"),
        ("from ...handlers import routes\n", "bot.cli.program", "handlers"),
        ("from .. import handlers\n", "bot.server", "handlers"),
        (
            "import importlib\nimportlib.import_module('handlers.entry')\n",
            "bot.x",
            "handlers.entry",
        ),
        ("__import__('handlers')\n", "bot.x", "handlers"),
        ("if TYPE_CHECKING:\n    from bot.core import Core\n", "storage.db", "bot.core"),
    ],
)
def test_the_checker_sees_every_way_of_importing(source: str, module: str, expected: str) -> None:
    names = [name for _, name in imported_names(source, module=module)]
    assert expected in names


def test_relative_imports_resolve_inside_the_package() -> None:
    names = [n for _, n in imported_names("from .pool import X\n", module="gateway.modem.intake")]
    assert names == ["gateway.modem.pool"]
    in_init = imported_names("from . import spec\n", module="gateway.modem", is_package=True)
    assert [n for _, n in in_init] == ["gateway.modem", "gateway.modem.spec"]


def test_the_console_script_loads_chat_libraries_only_when_a_front_is_used() -> None:
    """`smsops contacts list` starts without the routes, Slack or Telegram modules."""
    code = (
        "import sys, handlers.entry\n"
        "loaded = [m for m in sys.modules if m.startswith(('handlers.', 'slack', 'telegram'))]\n"
        "print(sorted(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "['handlers.entry']"
