"""One modem's sends, run by the task that owns its port: one at a time, paced, each part once.

The pace (the modem's `pace_seconds`) is kept here, inside the serialised job, so that
sends queued at the same moment still leave at least the pace apart.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable

from gateway.base import GatewayAmbiguousError, GatewayError, RecipientResult, SendOutcome
from gateway.modem.at.channel import ATChannel
from gateway.modem.at.errors import ATError, ATTimeout, PortClosed
from gateway.modem.jobs import SendJob, settle
from gateway.modem.pdu import encode_submit
from gateway.modem.reports import ReportTracker
from gateway.modem.sending import Sent, lost, refused, sent_before_timeout, submit_part
from gateway.modem.spec import ModemSettings, ModemSpec

logger = logging.getLogger(__name__)


class Outgoing:
    """Sends one queued message at a time, at least the modem's pace apart, and settles it."""

    def __init__(
        self,
        spec: ModemSpec,
        *,
        settings: ModemSettings,
        tracker: ReportTracker,
        monotonic: Callable[[], float],
    ):
        self.spec = spec
        self.settings = settings
        self.tracker = tracker
        self._mono = monotonic
        self.parts_sent = 0
        self._reference = random.randrange(256)
        self._next_send_at = 0.0

    async def send(self, channel: ATChannel, job: SendJob) -> None:
        """Wait for the pace, send every part, settle the job; raise if the channel is unusable."""
        self._reference = (self._reference + 1) % 256
        try:
            pdus = encode_submit(
                job.phone, job.text, reference=self._reference, smsc=self.spec.smsc
            )
        except ValueError as exc:
            result = RecipientResult(
                job.phone, SendOutcome.PERMANENT, reason=f"cannot encode: {exc}"
            )
            settle(job, Sent(result, 0))
            return
        if not await self._pace(job):
            return
        mrs: list[int] = []
        payloads = channel.payloads
        try:
            for pdu in pdus:
                mrs.append(await submit_part(channel, pdu, settings=self.settings))
                self.parts_sent += 1
        except (PortClosed, ATTimeout) as exc:
            mr = sent_before_timeout(exc)  # +CMGS: <mr> came, then no OK: this part went
            if mr is not None:
                mrs.append(mr)
                self.parts_sent += 1
            if mr is not None and len(mrs) == len(pdus):
                logger.warning("%s: %s after +CMGS: %d; counted as sent", self.spec.id, exc, mr)
                self._accepted(job, mrs, parts=len(pdus))
            else:
                settle(job, lost(self.spec.id, exc, done=len(mrs)))
            raise  # the channel is gone or out of step: reconnect
        except asyncio.CancelledError:  # stopped mid-send: it may have gone once a PDU was out
            settle(job, self._stopped(written=channel.payloads != payloads))
            raise
        except ATError as exc:
            settle(
                job, refused(job.phone, exc, modem_id=self.spec.id, done=len(mrs), total=len(pdus))
            )
            return
        finally:
            self._next_send_at = self._mono() + self.spec.pace_seconds
        self._accepted(job, mrs, parts=len(pdus))

    def _accepted(self, job: SendJob, mrs: list[int], *, parts: int) -> None:
        """Settle a job every part of which the modem took, tracking its references."""
        provider_id = f"{self.spec.id}-{uuid.uuid4().hex}"
        self.tracker.sent(provider_id, job.phone, mrs=[mr for mr in mrs if mr >= 0])
        status = "+CMGS: " + ",".join(str(mr) for mr in mrs)
        result = RecipientResult(
            job.phone, SendOutcome.ACCEPTED, provider_id, status=status, segments=parts
        )
        settle(job, Sent(result, parts))

    async def _pace(self, job: SendJob) -> bool:
        """Wait until the pace allows the next send; False if the caller stopped waiting."""
        delay = self._next_send_at - self._mono()
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                settle(job, self._stopped(written=False))
                raise
        return not job.future.done()  # cancelled while waiting: never sent

    def _stopped(self, *, written: bool) -> GatewayError:
        if written:
            return GatewayAmbiguousError(f"{self.spec.id}: stopped while sending")
        return GatewayError(
            f"{self.spec.id}: stopped before the message was written; nothing was sent",
            temporary=True,
        )
