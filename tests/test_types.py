"""The types that cross module lines: stored states, keyword-action rules, preview, counts, plan."""

from __future__ import annotations

import dataclasses
import json
import logging
from enum import StrEnum
from pathlib import Path

import pytest

from bot.inbound.defaults import ACTIONS
from bot.inbound.keywords import MissingRuleError, check_rules
from bot.inbound.rules import KeywordRules
from storage import BroadcastState, KeywordAction, OutboxState
from storage.broadcasts import Preview
from storage.outbox import BroadcastCounts, SettlePlan
from tests.support.base import make_config

logger = logging.getLogger(__name__)


class Grown(StrEnum):
    """KeywordAction as it would be with one action added and no rule written for it."""

    OPTOUT = "optout"
    OPTIN = "optin"
    HELP = "help"
    JOIN = "join"
    LEAVE = "leave"
    SUBSCRIBE = "subscribe"


def test_every_keyword_action_has_a_rule_and_config_accepts_it(tmp_path: Path) -> None:
    rules = KeywordRules(make_config(tmp_path))  # would raise MissingRuleError
    assert set(rules.actions) == set(KeywordAction) == set(ACTIONS)


def test_an_action_added_without_a_rule_stops_start_up(tmp_path: Path) -> None:
    rules = KeywordRules(make_config(tmp_path))
    with pytest.raises(MissingRuleError, match="without a rule: subscribe"):
        check_rules(rules.actions, Grown)
    without_help = {a: rule for a, rule in rules.actions.items() if a is not KeywordAction.HELP}
    with pytest.raises(MissingRuleError, match="help"):
        check_rules(without_help)


def test_states_equal_the_stored_strings() -> None:
    stored: str = "awaiting_approval"
    assert stored == BroadcastState.AWAITING_APPROVAL and BroadcastState(stored) in {stored}
    assert json.dumps({"state": OutboxState.SENDING}) == '{"state": "sending"}'
    assert f"{BroadcastState.DONE}" == "done"


def test_counts_have_a_field_for_every_row_state_and_keep_their_json() -> None:
    fields = {f.name for f in dataclasses.fields(BroadcastCounts)}
    assert {s.value for s in OutboxState} <= fields
    assert list(BroadcastCounts().as_json()) == [
        "queued",
        "sending",
        "sent",
        "delivered",
        "failed",
        "unknown",
        "skipped",
        "cancelled",
        "cost",
    ]
    assert BroadcastCounts(claimed=2).as_json()["claimed"] == 2


def test_preview_reads_back_what_it_stores() -> None:
    stored = {
        "audience": "club:ict",
        "description": "club:ict",
        "groups": ["club:ict"],
        "numbers": 0,
        "matched": 2,
        "opted_out": 1,
        "recipients": 1,
        "personalised": True,
        "footer": "",
        "encoding": "UCS-2",
        "segments_per_message": 1,
        "max_segments": 1,
        "total_segments": 1,
        "ucs2_chars": ["’"],
        "ucs2_messages": 1,
        "cost": 0.8,
        "currency": "KES",
        "price_per_segment": 0.8,
        "sample": "It’s on",
        "characters": 7,
    }
    preview = Preview.from_json(json.loads(json.dumps(stored)))
    assert json.dumps(preview.as_json()) == json.dumps(stored)


def test_settle_plan_round_trips_through_the_journal_form() -> None:
    plan = SettlePlan(
        sent=[(1, "p1", "Success", 0.8), (2, None, "Success", None)],
        failed=[(3, "403 InvalidPhoneNumber")],
        retry=[(4, 12.5, "busy")],
        blacklisted=["+254712000001"],
        broke=True,
    )
    assert SettlePlan.from_json(json.loads(json.dumps(plan.as_json()))) == plan
    empty = '{"sent": [], "failed": [], "retry": [], "blacklisted": [], "broke": false}'
    assert json.dumps(SettlePlan().as_json()) == empty  # the journal's form, as before
