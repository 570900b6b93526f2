"""The chat fronts as one table: routes by config, person ids by platform, shared button codes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web

from bot.server import ON_CORE
from handlers.chat.buttons import ACTIONS, CODES, clip
from handlers.chat.slack._front import ACTION_IDS
from handlers.chat.telegram import decode_callback, encode_callback
from handlers.chat.wiring import FRONTS, add_chat_routes
from tests.support.base import make_config
from tests.support.chat import APPROVER, STAFF, STRANGER, chat_config
from tests.test_cli_layering import ROOT, imported_names, module_name

logger = logging.getLogger(__name__)


def test_the_chat_fronts_import_no_gateway() -> None:
    """handlers/chat talks to the core only: no module of it imports gateway/."""
    found = []
    paths = sorted((ROOT / "handlers" / "chat").rglob("*.py"))
    for path in paths:
        source = path.read_text(encoding="utf-8")
        names = imported_names(
            source, module=module_name(path), is_package=path.name == "__init__.py"
        )
        found += [
            f"{path.relative_to(ROOT)}:{n}" for n, name in names if name.startswith("gateway")
        ]
    assert len(paths) > 10
    assert found == []


def test_each_kind_of_front_has_its_own_platform_and_route() -> None:
    platforms = [kind.platform for kind in FRONTS]
    assert platforms == ["console", "slack", "telegram"]
    assert len({kind.path for kind in FRONTS}) == len(FRONTS)


def _routes(folder: Path, **urls: str) -> list[str]:
    folder.mkdir()
    app = web.Application()
    app[ON_CORE] = []
    add_chat_routes(app, chat_config(folder, **urls))
    return sorted(r.resource.canonical for r in app.router.routes() if r.resource)


def test_only_configured_fronts_get_a_route(tmp_path: Path) -> None:
    assert _routes(tmp_path / "a") == ["/console/command"]
    both = _routes(tmp_path / "b", slack_url="http://x/api/", telegram_url="http://x/bot")
    assert both == ["/console/command", "/slack/events", "/telegram/webhook"]


def test_a_person_is_found_by_their_id_on_each_platform(tmp_path: Path) -> None:
    config = chat_config(tmp_path)
    staff = config.people[STAFF.id]
    assert staff.ids == {"slack": STAFF.slack, "telegram": str(STAFF.telegram)}
    assert config.person_for("slack", STAFF.slack) == staff
    assert config.person_for("telegram", str(APPROVER.telegram)) == config.people[APPROVER.id]
    assert config.person_for("slack", str(STAFF.telegram)) is None  # ids are per platform
    assert config.person_for("telegram", str(STRANGER.telegram)) is None
    assert config.person_for("console", STAFF.id) is None  # the console names people by id


def test_people_without_chat_ids_have_none(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert config.people
    assert all(person.ids == {} for person in config.people.values())
    assert config.person_for("slack", "") is None


def test_a_person_is_hashable_despite_the_ids_mapping(tmp_path: Path) -> None:
    person = chat_config(tmp_path).people[STAFF.id]
    assert person in {person}


@pytest.mark.parametrize("action", ACTIONS)
def test_every_button_action_reaches_both_platforms(action: str) -> None:
    assert decode_callback(encode_callback(action, "12")) == (action, "12")
    assert ACTION_IDS.fullmatch(action)
    assert not ACTION_IDS.fullmatch(CODES[action])


def test_clip_keeps_short_text_and_marks_the_cut() -> None:
    assert clip("hello", 5) == "hello"
    assert clip("hello!", 5) == "hell…"
