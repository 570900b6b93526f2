"""The usual Africa's Talking answer is read on a fast path; it must agree with the general one."""

from __future__ import annotations

import json
import random

from gateway.africastalking.wire import Answer, Reading, interpret, recipient_result
from gateway.base import RecipientResult, SendOutcome

HOW = Reading(gateway="africastalking", host="example", redact=lambda s: s)
PHONES = [f"+2547{n:08d}" for n in range(20_000_000, 20_000_040)]


def entry(phone: str, n: int) -> dict[str, object]:
    """One accepted, or sometimes refused, entry as AT writes it."""
    if n % 7 == 3:
        return {"statusCode": 403, "number": phone, "status": "InvalidPhoneNumber", "cost": "0"}
    return {
        "statusCode": 101,
        "number": phone,
        "status": "Success",
        "cost": "KES 0.8000",
        "messageId": f"ATXid_{n:032x}",
        "messageParts": 1,
    }


def read(entries: list[dict[str, object]]) -> list[RecipientResult]:
    """interpret() on a 201 answer with these entries."""
    body = json.dumps({"SMSMessageData": {"Message": "Sent", "Recipients": entries}})
    return list(interpret(Answer(201, {}, body), PHONES, how=HOW))


def test_exact_numbers_in_any_order_read_as_by_digits() -> None:
    entries = [entry(p, n) for n, p in enumerate(PHONES)]
    expected = read(entries)  # exact numbers: the fast path
    shuffled = entries[:]
    random.Random(3).shuffle(shuffled)
    assert read(shuffled) == expected
    # written without the plus: only the general path (matching digits) finds them
    bare = [dict(e, number=str(e["number"]).lstrip("+")) for e in entries]
    assert read(bare) == expected
    assert sum(r.outcome is SendOutcome.ACCEPTED for r in expected) == 34


def test_missing_and_repeated_numbers_still_take_the_general_path() -> None:
    entries = [entry(p, n) for n, p in enumerate(PHONES)]
    results = read(entries[:-1] + [entries[0]])
    assert results[-1].outcome is SendOutcome.TEMPORARY
    assert results[-1].reason == "missing from provider response"


def test_fast_entry_reading_matches_the_general_checks() -> None:
    base = entry(PHONES[0], 1)
    variants: list[dict[str, object]] = [
        base,
        dict(base, messageId=" ATXid_padded "),  # stripped by the general path
        dict(base, messageId="None"),
        dict(base, status=""),
        dict(base, cost=None, messageParts="2"),
        dict(base, statusCode="101"),
        dict(base, messageParts=True),
    ]
    for v in variants:
        fast = recipient_result(PHONES[0], v, gateway="at")
        slow = recipient_result(PHONES[0], dict(v, statusCode=str(v["statusCode"])), gateway="at")
        assert fast == slow, v
    assert recipient_result(PHONES[0], variants[1], gateway="at").provider_id == "ATXid_padded"
