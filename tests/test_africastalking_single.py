"""One-recipient and number-less Africa's Talking answers, from recorded payload shapes: a single
entry is matched by position, and what cannot be matched safely is ambiguous (never retried)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.africastalking.sender import AfricasTalkingGateway
from gateway.base import GatewayAmbiguousError, OutgoingMessage, SendOutcome
from tests.fakes.africastalking import FakeAfricasTalking

API_KEY = "atsk_test_5f3c0e9a7b1d4e2f8a6c"
FIXTURES = Path(__file__).parent / "fixtures" / "africastalking"
ONE, TWO = "+254711000001", "+254711000002"


def answer(name: str) -> str:
    """A recorded send answer."""
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeAfricasTalking, AfricasTalkingGateway]]:
    async with (
        FakeAfricasTalking(username="sandbox", api_key=API_KEY) as fake,
        aiohttp.ClientSession() as session,
    ):
        yield (
            fake,
            AfricasTalkingGateway(
                session=session, username="sandbox", api_key=API_KEY, base_url=fake.base_url
            ),
        )


async def test_one_recipient_answer_without_a_number_is_matched_by_position(
    gateway: tuple[FakeAfricasTalking, AfricasTalkingGateway],
) -> None:
    fake, at = gateway
    fake.faults.raw_response(answer("send_one_without_number.json"))
    (result,) = await at.send(OutgoingMessage(text="Exam at 9", recipients=[ONE]))
    assert result.phone == ONE and result.outcome is SendOutcome.ACCEPTED
    assert result.provider_id == "ATXid_4c1d7e9a2b3f4a5e8d6c0b1a2f3e4d5c"
    assert (result.status_code, result.cost, result.segments) == (101, "KES 0.8000", 1)


@pytest.mark.parametrize(
    ("fixture", "recipients"),
    [
        ("send_one_other_number.json", [ONE]),  # the one entry names someone else
        ("send_two_one_without_number.json", [ONE, TWO]),  # which entry is TWO's?
    ],
)
async def test_answers_that_cannot_be_matched_are_ambiguous(
    gateway: tuple[FakeAfricasTalking, AfricasTalkingGateway],
    *,
    fixture: str,
    recipients: list[str],
) -> None:
    fake, at = gateway
    fake.faults.raw_response(answer(fixture))
    with pytest.raises(GatewayAmbiguousError):
        await at.send(OutgoingMessage(text="Exam at 9", recipients=recipients))
    assert len(fake.requests) == 1
