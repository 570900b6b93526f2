"""The start-up sequence that makes a freshly opened modem ready to send and receive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.modem.at.channel import ESC, ATChannel
from gateway.modem.at.errors import ATError, ATTimeout, CmeError, CmsError, SimError
from gateway.modem.spec import ModemSettings, ModemSpec

logger = logging.getLogger(__name__)

# New messages as +CMTI; status reports stored (+CDSI) or direct (+CDS); then plainer forms.
CNMI_CHOICES = (
    ("2,1,0,2,0", "+CDSI"),
    ("2,1,0,1,0", "+CDS"),
    ("1,1,0,2,0", "+CDSI"),
    ("1,1,0,1,0", "+CDS"),
    ("2,1,0,0,0", None),
    ("1,1,0,0,0", None),
)
_PIN_STATES = {
    "SIM PIN": "the SIM asks for its PIN",
    "SIM PUK": "the SIM is PUK-locked (too many wrong PINs): unlock it in a phone",
    "PH-SIM PIN": "the modem asks for a phone-to-SIM lock code (a locked dongle)",
    "PH-NET PIN": "the dongle is locked to another network: it needs an unlock code",
    "SIM PIN2": "the SIM asks for PIN2",
    "SIM PUK2": "the SIM asks for PUK2",
}
_NO_SIM = {10: "no SIM card in the modem", 13: "the SIM card failed", 15: "wrong SIM card"}


@dataclass(frozen=True, slots=True)
class Started:
    """What the start-up sequence settled on."""

    storage: str
    cnmi: str | None
    reports: str | None  # "+CDSI", "+CDS" or None when the modem gives none
    curc: bool


class PinRejected(SimError):
    """The configured PIN was refused; it is not tried again (a PUK lock would follow)."""


async def run(
    channel: ATChannel, command: str, *, settings: ModemSettings, expect: Sequence[str] = ()
) -> list[str]:
    """Run a command, retrying after a delay while the SIM or the device is busy."""
    for attempt in range(settings.busy_retries + 1):
        try:
            return await channel.command(command, within=settings.command_seconds, expect=expect)
        except (CmeError, CmsError) as exc:
            if not exc.busy or attempt == settings.busy_retries:
                raise
            logger.info("%s: %s; retrying in %.1fs", channel.name, exc, settings.busy_delay_seconds)
            await asyncio.sleep(settings.busy_delay_seconds)
    raise AssertionError("unreachable")


async def reset(channel: ATChannel, settings: ModemSettings) -> None:
    """ESC (leave a stale '> ' prompt), drop stale output, ATZ, ATE0 (echo tolerated)."""
    await channel.write_raw(ESC)
    await channel.settle(settings.settle_seconds)
    for attempt in range(3):
        try:
            await channel.command("ATZ", within=settings.command_seconds)
            break
        except ATTimeout:
            if attempt == 2:
                raise
            await channel.settle(settings.settle_seconds)
    await channel.command("ATE0", within=settings.command_seconds)


async def unlock(
    channel: ATChannel, spec: ModemSpec, *, settings: ModemSettings, pin_allowed: bool
) -> None:
    """AT+CPIN?: carry on when READY, enter the configured PIN once, else a clear SimError."""
    entered = False
    for _ in range(settings.busy_retries + 1):
        try:
            lines = await run(channel, "AT+CPIN?", settings=settings, expect=("+CPIN",))
        except CmeError as exc:
            if exc.code in _NO_SIM:
                raise SimError(f"{spec.id}: {_NO_SIM[exc.code]} ({exc})") from exc
            raise
        state = next((ln.partition(":")[2].strip() for ln in lines if ln.startswith("+CPIN")), "")
        if state == "READY":
            return
        if state == "SIM PIN" and not entered:
            if spec.pin is None:
                raise SimError(f"{spec.id}: the SIM asks for its PIN; set pin for this modem")
            if not pin_allowed:
                raise PinRejected(f"{spec.id}: the SIM PIN was refused before; not trying again")
            try:
                await run(channel, f'AT+CPIN="{spec.pin}"', settings=settings)
            except CmeError as exc:
                raise PinRejected(
                    f"{spec.id}: the SIM refused the configured PIN ({exc}); not trying again "
                    "so the SIM is not PUK-locked: fix pin, then restart"
                ) from exc
            entered = True
            await asyncio.sleep(settings.busy_delay_seconds / 4)  # the SIM reads its files
            continue
        raise SimError(f"{spec.id}: {_PIN_STATES.get(state, f'SIM state {state!r}')}")
    raise SimError(f"{spec.id}: the SIM did not become ready after the PIN")


async def choose_storage(channel: ATChannel, spec: ModemSpec, *, settings: ModemSettings) -> str:
    """AT+CPMS with the configured storage for all three uses; else keep the modem's own."""
    mem = spec.storage
    try:
        await run(channel, f'AT+CPMS="{mem}","{mem}","{mem}"', settings=settings, expect=("+CPMS",))
        return mem
    except ATError as exc:
        logger.warning("%s: storage %s refused (%s); using the modem's", spec.id, mem, exc)
    lines = await run(channel, "AT+CPMS?", settings=settings, expect=("+CPMS",))
    for line in lines:
        if line.startswith("+CPMS"):
            return line.partition(":")[2].split(",")[0].strip().strip('"') or mem
    return mem


async def choose_cnmi(
    channel: ATChannel, spec: ModemSpec, *, settings: ModemSettings
) -> tuple[str | None, str | None]:
    """The first AT+CNMI setting the modem accepts, and how status reports will come."""
    for value, reports in CNMI_CHOICES:
        try:
            await run(channel, f"AT+CNMI={value}", settings=settings)
            if reports is None:
                logger.warning("%s: no delivery reports from this modem", spec.id)
            return value, reports
        except (CmeError, CmsError, ATError) as exc:
            if isinstance(exc, ATTimeout):
                raise
            logger.info("%s: AT+CNMI=%s refused (%s)", spec.id, value, exc)
    logger.warning("%s: every AT+CNMI setting refused; relying on storage sweeps", spec.id)
    return None, None


async def start_modem(
    channel: ATChannel, spec: ModemSpec, *, settings: ModemSettings, pin_allowed: bool = True
) -> Started:
    """The whole sequence: reset, CMEE, PIN, PDU mode, storage, CNMI, ^CURC."""
    await reset(channel, settings)
    try:
        await run(channel, "AT+CMEE=1", settings=settings)
    except ATError as exc:
        if isinstance(exc, ATTimeout):
            raise
        logger.info("%s: AT+CMEE=1 refused (%s); errors will be plain", spec.id, exc)
    await unlock(channel, spec, settings=settings, pin_allowed=pin_allowed)
    await run(channel, "AT+CMGF=0", settings=settings)
    storage = await choose_storage(channel, spec, settings=settings)
    cnmi, reports = await choose_cnmi(channel, spec, settings=settings)
    curc = True
    try:
        await run(channel, "AT^CURC=0", settings=settings)
    except ATError as exc:
        if isinstance(exc, ATTimeout):
            raise
        curc = False  # not a Huawei, or an older one: its URCs are routed anyway
    logger.info(
        "%s: ready (storage %s, CNMI %s, reports %s)", spec.id, storage, cnmi, reports or "none"
    )
    return Started(storage=storage, cnmi=cnmi, reports=reports, curc=curc)
