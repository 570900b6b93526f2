"""Sending one message in PDU mode: AT+CMGS per part, and what a refusal or a loss means."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.base import GatewayAmbiguousError, GatewayError, RecipientResult, SendOutcome
from gateway.modem.at.channel import ATChannel
from gateway.modem.at.errors import (
    ATError,
    ATTimeout,
    CmeError,
    CmsError,
    ErrorKind,
    PortClosed,
    cms_reason,
)
from gateway.modem.at.urc import int_fields
from gateway.modem.pdu import SubmitPdu
from gateway.modem.spec import ModemSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sent:
    """The answer for one message, and how many of its parts left the modem."""

    result: RecipientResult
    parts_sent: int


async def submit_part(channel: ATChannel, pdu: SubmitPdu, *, settings: ModemSettings) -> int:
    """AT+CMGS for one part, retried while busy; its message reference (-1 if unread)."""
    lines: list[str] = []
    for attempt in range(settings.busy_retries + 1):
        try:
            lines = await channel.command_with_pdu(
                f"AT+CMGS={pdu.tpdu_length}",
                pdu.hex,
                prompt_within=settings.prompt_seconds,
                within=settings.send_seconds,
            )
            break
        except (CmeError, CmsError) as exc:
            if not exc.busy or attempt == settings.busy_retries:
                raise
            logger.info("%s: %s; retrying in %.1fs", channel.name, exc, settings.busy_delay_seconds)
            await asyncio.sleep(settings.busy_delay_seconds)
    mr = message_reference(lines)
    if mr is None:
        logger.warning("%s: sent, but no +CMGS: <mr> in %r", channel.name, lines)
        return -1
    return mr


def message_reference(lines: Sequence[str]) -> int | None:
    """The <mr> of a `+CMGS: <mr>` line among a command's information lines, if any."""
    for line in lines:
        if line.startswith("+CMGS:"):
            fields = int_fields(line.partition(":")[2])
            if fields:
                return fields[0]
    return None


def sent_before_timeout(exc: PortClosed | ATTimeout) -> int | None:
    """The <mr> when a part's PDU was written and +CMGS: <mr> came, but then no OK: it went."""
    if isinstance(exc, ATTimeout) and exc.written:
        return message_reference(exc.lines)
    return None


def refused(
    phone: str, exc: ATError, *, modem_id: str, done: int, total: int
) -> Sent | GatewayError:
    """The modem refused a part: fail the message, retry it later, or let another modem try."""
    code: int | None = None
    if isinstance(exc, CmsError):
        kind, reason, code = exc.kind, cms_reason(exc.code), exc.code
    elif isinstance(exc, CmeError) and exc.busy:
        kind, reason, code = ErrorKind.MODEM, str(exc), exc.code
    else:  # plain ERROR (no +CMEE) or a garbled answer: nothing known, try again later
        kind, reason = ErrorKind.TEMPORARY, str(exc)
    if done:  # the first parts went: never repeat them
        reason = f"{reason} after {done} of {total} parts were sent; not repeated"
        result = RecipientResult(
            phone, SendOutcome.PERMANENT, status_code=code, reason=reason, segments=done
        )
        return Sent(result, done)
    if kind is ErrorKind.MODEM:
        return GatewayError(f"{modem_id}: {reason}", temporary=True)
    outcome = SendOutcome.PERMANENT if kind is ErrorKind.PERMANENT else SendOutcome.TEMPORARY
    return Sent(RecipientResult(phone, outcome, status_code=code, reason=reason), 0)


def lost(modem_id: str, exc: PortClosed | ATTimeout, *, done: int) -> GatewayError:
    """The port vanished or stopped answering mid-send: ambiguous once anything was written."""
    if exc.written or done:
        return GatewayAmbiguousError(
            f"{modem_id}: {exc}; the message may have gone, so it is not repeated"
        )
    return GatewayError(f"{modem_id}: {exc}; nothing was sent", temporary=True)
