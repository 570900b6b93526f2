"""What `smsops gateway test` says when Africa's Talking refuses the test recipient.

Whole-request failures explain themselves where they are raised: a bad or sandbox key
(wire.AUTH_FAILED), TLS and connection problems (sender); these are per-recipient codes.
"""

from __future__ import annotations

from typing import Final

from gateway.base import RecipientResult

DIAGNOSES: Final[dict[int, str]] = {
    401: "RiskHold: Africa's Talking holds this account for review; contact their support",
    402: "InvalidSenderId: the sender id is not registered for this account",
    403: "InvalidPhoneNumber: the number is not valid for this route",
    404: "UnsupportedNumberType: this kind of number cannot receive SMS here",
    405: "InsufficientBalance: top up the account",
    406: "UserInBlacklist: the recipient has blocked messages from us",
    407: "CouldNotRoute: no route to this network; ask Africa's Talking to enable it",
    409: "DoNotDisturbRejection: the recipient has Do Not Disturb on",
}


def diagnose(result: RecipientResult) -> str:
    """What to do about a refused recipient, by AT's status code; else AT's own words."""
    return DIAGNOSES.get(result.status_code or 0, result.reason or result.status)
