"""Phone numbers: every common Kenyan way of writing a mobile becomes E.164; others are refused."""

from __future__ import annotations

import phonenumbers
import pytest

from bot.contacts.phones import PhoneError, PhoneNormaliser
from tests.support.base import SAME_NUMBER_FORMS

KE = PhoneNormaliser("KE")


@pytest.mark.parametrize(
    "raw",
    [
        *SAME_NUMBER_FORMS,
        " 0712 345 678 ",
        "+254712345678",
        "0712.345.678",
        "0712\u00a0345\u00a0678",
    ],
)
def test_kenyan_forms_become_e164(raw: str) -> None:
    assert KE.normalise(raw) == "+254712345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0110123456", "+254110123456"),  # Safaricom 011x range
        ("+44 7911 123456", "+447911123456"),  # other countries kept as written
        ("+1 650 253 0000", "+16502530000"),  # US: fixed-line-or-mobile is accepted
        ("+255 754 123 456", "+255754123456"),  # Tanzania mobile
    ],
)
def test_other_valid_numbers(raw: str, expected: str) -> None:
    assert KE.normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("020 2222222", "a fixed line, cannot receive SMS"),
        ("0712", "too short"),
        ("+254712345678999", "too long"),
        ("", "empty"),
        ("not a number", "not a phone number"),
        ("+44 20 7946 0000", "a fixed line, cannot receive SMS"),
        ("0800 720 000", "a toll-free number, cannot receive SMS"),
    ],
)
def test_rejected_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError) as err:
        KE.normalise(raw)
    assert str(err.value).startswith(reason)


def test_fast_path_agrees_with_phonenumbers() -> None:
    """The home-region fast path gives phonenumbers' own answer for a sweep of numbers."""
    for prefix in ("070", "071", "072", "074", "075", "076", "079", "010", "011", "078", "077"):
        for tail in ("0000000", "1234567", "9999999", "5550123"):
            raw = prefix + tail
            parsed = phonenumbers.parse(raw, "KE")
            kind = phonenumbers.number_type(parsed)
            ours = KE.try_normalise(raw)
            if kind in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            ):
                assert ours == phonenumbers.format_number(
                    parsed, phonenumbers.PhoneNumberFormat.E164
                ), raw
            else:
                assert ours is None, raw
