"""`smsops modem probe PORT`: what is plugged in, and can it send? Changes nothing on the SIM."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gateway.modem.at.channel import ATChannel, PortOpener, open_serial
from gateway.modem.at.errors import ATError, ATTimeout, CmeError
from gateway.modem.at.urc import Urc, int_fields, rssi_dbm
from gateway.modem.spec import ModemSettings
from gateway.modem.startup import reset, run

logger = logging.getLogger(__name__)

_REGISTRATION = {
    0: "not registered, not searching",
    1: "registered, home network",
    2: "not registered, searching",
    3: "registration denied",
    4: "unknown",
    5: "registered, roaming",
}


@dataclass(slots=True)
class ProbeReport:
    """What the probe learnt; `problems` says what stops it sending."""

    port: str
    manufacturer: str | None = None
    model: str | None = None
    revision: str | None = None
    sim: str | None = None
    imsi: str | None = None
    rssi: int | None = None
    registration: str | None = None
    operator: str | None = None
    storage: str | None = None
    smsc: str | None = None
    pdu_mode: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def can_send(self) -> bool:
        """True when nothing in `problems` stops sending."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        dbm = rssi_dbm(self.rssi) if self.rssi is not None else None
        return {
            "port": self.port,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "revision": self.revision,
            "sim": self.sim,
            "imsi": self.imsi,
            "signal": {"rssi": self.rssi, "dbm": dbm},
            "registration": self.registration,
            "operator": self.operator,
            "storage": self.storage,
            "smsc": self.smsc,
            "pdu_mode": self.pdu_mode,
            "can_send": self.can_send,
            "problems": list(self.problems),
        }


def _value(lines: list[str], prefix: str = "") -> str | None:
    for line in lines:
        if prefix and line.startswith(prefix):
            return line.partition(":")[2].strip()
        if not prefix:
            return line.strip()
    return None


def _quoted(value: str | None, position: int) -> str | None:
    if value is None:
        return None
    fields = [f.strip().strip('"') for f in value.split(",")]
    return fields[position] if len(fields) > position and fields[position] else None


async def _ask(
    channel: ATChannel, command: str, *, settings: ModemSettings, prefix: str = ""
) -> str | None:
    try:
        lines = await run(channel, command, settings=settings, expect=(prefix,) if prefix else ())
    except ATTimeout:
        raise
    except ATError as exc:
        logger.info("%s: %s", command, exc)
        return None
    return _value(lines, prefix)


async def probe(
    port: str,
    *,
    baudrate: int = 115200,
    settings: ModemSettings | None = None,
    open_port: PortOpener = open_serial,
) -> ProbeReport:
    """Open the port, ask the modem about itself, and close it again."""
    s = settings or ModemSettings(busy_retries=2, busy_delay_seconds=1.0)
    report = ProbeReport(port)
    reader, writer = await open_port(port, baudrate)

    def urc(u: Urc) -> None:
        logger.debug("probe %s: %s", port, u.line)

    channel = ATChannel(reader, writer, on_urc=urc, name=port)
    channel.start()
    try:
        await _interview(channel, report, settings=s)
    except ATTimeout:
        report.problems.append(
            "the modem stopped answering AT commands (is this its AT port? Huawei dongles "
            "show several ttyUSB ports; the AT port is often the last or the first)"
        )
    finally:
        await channel.close()
    return report


async def _interview(channel: ATChannel, report: ProbeReport, *, settings: ModemSettings) -> None:
    s = settings
    await reset(channel, s)
    await _ask(channel, "AT+CMEE=1", settings=s)
    report.manufacturer = await _ask(channel, "AT+CGMI", settings=s)
    report.model = await _ask(channel, "AT+CGMM", settings=s)
    report.revision = await _ask(channel, "AT+CGMR", settings=s)
    try:
        report.sim = await _value_strict(channel, "AT+CPIN?", settings=s, prefix="+CPIN")
    except CmeError as exc:
        report.sim = "absent" if exc.code == 10 else f"error ({exc})"
    if report.sim != "READY":
        report.problems.append(f"SIM not ready: {report.sim or 'no answer to AT+CPIN?'}")
    else:
        report.imsi = await _ask(channel, "AT+CIMI", settings=s)
    csq = int_fields((await _ask(channel, "AT+CSQ", settings=s, prefix="+CSQ")) or "")
    report.rssi = csq[0] if csq and csq[0] != 99 else None
    if report.rssi is None:
        report.problems.append("no signal (AT+CSQ gives 99 or nothing)")
    creg = int_fields((await _ask(channel, "AT+CREG?", settings=s, prefix="+CREG")) or "")
    stat = creg[1] if len(creg) > 1 else creg[0] if creg else None
    report.registration = _REGISTRATION.get(stat, "unknown") if stat is not None else None
    if stat not in (1, 5):
        report.problems.append(f"not registered on a network ({report.registration})")
    report.operator = _quoted(await _ask(channel, "AT+COPS?", settings=s, prefix="+COPS"), 2)
    cpms = await _ask(channel, "AT+CPMS?", settings=s, prefix="+CPMS")
    if cpms is not None:
        mem, used, total = _quoted(cpms, 0), _quoted(cpms, 1), _quoted(cpms, 2)
        report.storage = f"{mem} {used}/{total} used"
        if used is not None and used == total:
            report.problems.append("message storage is full: new SMS cannot arrive")
    report.smsc = _quoted(await _ask(channel, "AT+CSCA?", settings=s, prefix="+CSCA"), 0)
    if not report.smsc:
        report.problems.append("no SMS centre number on the SIM (set smsc for this modem)")
    report.pdu_mode = await _ok(channel, "AT+CMGF=0", settings=s)
    if not report.pdu_mode:
        report.problems.append("the modem refuses PDU mode (AT+CMGF=0)")


async def _value_strict(
    channel: ATChannel, command: str, *, settings: ModemSettings, prefix: str
) -> str | None:
    return _value(await run(channel, command, settings=settings, expect=(prefix,)), prefix)


async def _ok(channel: ATChannel, command: str, *, settings: ModemSettings) -> bool:
    try:
        await run(channel, command, settings=settings)
    except ATTimeout:
        raise
    except ATError:
        return False
    return True
