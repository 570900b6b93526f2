"""A fake Huawei USB modem on a pseudo-terminal, speaking AT the way real dongles do.

It echoes until ATE0 (and the ATZ before it), sprinkles Huawei's unsolicited lines
(^RSSI, ^BOOT, ^MODE, ^DSFLOWRPT) into the middle of answers when `noise` is on, sends
the "> " prompt without a line end, decodes every SMS-SUBMIT with gateway.modem.pdu, answers
+CMGS: <mr>, produces status reports (+CDS or stored with +CDSI, following AT+CNMI),
keeps received SMS in SIM storage (+CMTI, AT+CMGR/CMGL/CMGD), and can be PIN-locked,
refuse settings, fail sends with +CMS ERROR, be busy, vanish mid-send, lose the OK after
+CMGS: <mr>, or put unsolicited lines and line ends right after the prompt (see
modem_faults.Faults).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.modem.pdu import decode_submit
from tests.fakes.modem_faults import PROMPT, PROMPT_PAUSE, Faults, Refusal, Submitted
from tests.fakes.modem_pdus import build_status_report
from tests.fakes.modem_pty import PtyPort
from tests.fakes.modem_sim import SimStorage

logger = logging.getLogger(__name__)

OK = "OK"
NOISE = ("^RSSI:14", "^DSFLOWRPT:0000012C,00000000,00000000,0000000000000000,0000000000000000")
INFO = {
    "AT+CGMI": ["huawei"],
    "AT+CGMM": ["E3131"],
    "AT+CGMR": ["21.158.00.00.143"],
    "AT+CIMI": ["639027123456789"],
    "AT+CSQ": ["+CSQ: 14,99"],
    "AT+COPS?": ['+COPS: 0,0,"Safaricom",2'],
    "AT+CREG?": ["+CREG: 0,1"],
    "AT+CSCA?": ['+CSCA: "+254722500000",145'],
    "ATI": ["Manufacturer: huawei", "Model: E3131", "Revision: 21.158.00.00.143"],
}


class FakeModem(PtyPort):
    """A Huawei-like dongle; all state is guarded by the port thread (see PtyPort.call)."""

    def __init__(
        self,
        link: Path,
        *,
        sim: str = "READY",  # READY | SIM PIN | SIM PUK | ABSENT
        pin: str = "1234",
        noise: bool = True,
        refuse_cnmi: frozenset[str] = frozenset(),
        curc: bool = True,
        keeps_echo: bool = False,
        report_storage: str = "SM",
        first_mr: int = 1,
        reports: bool = True,
    ):
        super().__init__(link)
        self.sim_state, self.pin, self.noise = sim, pin, noise
        self.refuse_cnmi, self.curc, self.keeps_echo = refuse_cnmi, curc, keeps_echo
        self.report_storage, self.next_mr, self.reports = report_storage, first_mr, reports
        self.pin_attempts: list[str] = []
        self.sim = SimStorage()
        self.submitted: list[Submitted] = []
        self.refusals: list[Refusal] = []
        self.commands: list[str] = []
        self.cmgs_at: list[float] = []  # when each AT+CMGS= came in (time.monotonic)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.echo = True
        self.cnmi: str | None = None
        self._buffer = b""
        self._pdu_length: int | None = None

    # -- from the test ------------------------------------------------------------------

    def deliver(self, pdu: str, *, mem: str = "SM") -> int:
        """A message arrives from the network: stored unread, announced with +CMTI."""
        box: list[int] = []
        self.call(lambda: box.append(self._store(mem, pdu, urc="+CMTI")))
        return box[0]

    def preload(self, pdu: str, *, mem: str = "SM") -> None:
        """A message already on the SIM before the driver starts (no +CMTI)."""
        with self.lock:
            self.sim.put(mem, pdu, stat=1)

    def urc(self, line: str) -> None:
        """An unsolicited line, now."""
        self.call(lambda: self.write(f"\r\n{line}\r\n".encode()))

    def report(self, pdu: str, length: int | None = None) -> None:
        """A status report the way AT+CNMI asked for it (+CDS direct, or stored with +CDSI)."""
        self.call(lambda: self._report(pdu, length))

    def texts(self) -> list[tuple[str, str]]:
        """(number, text) of every message taken, parts joined by concatenation reference."""
        out: list[tuple[str, str]] = []
        groups: dict[tuple[str, int], dict[int, str]] = {}
        for s in self.submitted:
            d = s.decoded
            if d.concat is None:
                out.append((d.number, d.text))
                continue
            parts = groups.setdefault((d.number, d.concat.reference), {})
            parts[d.concat.sequence] = d.text
            if len(parts) == d.concat.total:
                out.append((d.number, "".join(parts[i] for i in sorted(parts))))
        return out

    def stored(self, mem: str = "SM") -> dict[int, tuple[int, str]]:
        """A copy of a storage."""
        with self.lock:
            return dict(self.sim.boxes[mem])

    # -- in the port thread -------------------------------------------------------------

    def on_plug(self) -> None:
        """A fresh boot: echo on, no CNMI, PIN asked again if the SIM has one."""
        self.echo, self.cnmi, self._buffer, self._pdu_length = True, None, b"", None
        if self.sim_state == "READY" and self.pin_attempts:
            self.sim_state = "SIM PIN"

    def on_data(self, data: bytes) -> None:
        """Commands end in CR; after the prompt a PDU ends in Ctrl-Z (ESC cancels)."""
        with self.lock:
            self._buffer += data
            while self._buffer:
                if self._pdu_length is not None:
                    end = min(
                        (
                            i
                            for i in (self._buffer.find(b"\x1a"), self._buffer.find(b"\x1b"))
                            if i >= 0
                        ),
                        default=-1,
                    )
                    if end < 0:
                        return
                    body, cancel = self._buffer[:end], self._buffer[end] == 0x1B
                    self._buffer = self._buffer[end + 1 :]
                    length, self._pdu_length = self._pdu_length, None
                    if not cancel:
                        self._submit(body.decode("ascii").strip(), length)
                    continue
                self._buffer = self._buffer.lstrip(b"\x1b\n")
                if b"\r" not in self._buffer:
                    return
                line, self._buffer = self._buffer.split(b"\r", 1)
                self._command(line.decode("ascii", "replace").strip())

    def _send(self, lines: list[str], final: str = OK) -> None:
        out = ""
        for i, line in enumerate(lines):
            out += f"\r\n{line}\r\n"
            if self.noise and i == 0:
                out += "".join(f"\r\n{n}\r\n" for n in NOISE)
        self.write((out + f"\r\n{final}\r\n").encode())

    def _command(self, cmd: str) -> None:
        if not cmd:
            return
        self.commands.append(cmd)
        if self.echo:
            self.write(cmd.encode() + b"\r")
        upper = cmd.upper()
        if upper in ("AT", "ATE1"):
            self.echo = self.echo or upper == "ATE1"
            self._send([])
        elif upper == "ATZ":
            self.echo = True
            self._send([])
            if self.noise:
                self.write(b"\r\n^BOOT:20952548,0,0,0,72\r\n")
        elif upper == "ATE0":
            self.echo = self.keeps_echo
            self._send([])
        elif upper.startswith("AT+CMEE") or upper == "AT+CMGF=0":
            self._needs_sim(lambda: self._send([]), sms=upper != "AT+CMEE=1")
        elif upper == "AT+CPIN?":
            self._cpin()
        elif upper.startswith("AT+CPIN="):
            self._enter_pin(cmd.partition("=")[2].strip('"'))
        elif upper.startswith("AT+CPMS"):
            self._needs_sim(lambda: self._send(*self.sim.cpms(upper)), sms=True)
        elif upper.startswith("AT+CNMI="):
            value = upper.partition("=")[2]
            if value in self.refuse_cnmi:
                self._send([], "+CMS ERROR: 303")
            else:
                self.cnmi = value
                self._send([])
        elif upper == "AT^CURC=0":
            self._send([], OK if self.curc else "COMMAND NOT SUPPORT")
        elif upper.startswith("AT+CMGS="):
            self._cmgs(int(upper.partition("=")[2]))
        elif upper.startswith(("AT+CMGR=", "AT+CMGD=")) or upper == "AT+CMGL=4":
            self._needs_sim(lambda: self._send(*self.sim.command(upper)), sms=True)
        elif upper in INFO:
            if upper == "AT+CIMI" and self.sim_state != "READY":
                self._send([], "+CME ERROR: 11")
            else:
                self._send(INFO[upper])
        else:
            self._send([], "COMMAND NOT SUPPORT")

    def _needs_sim(self, then: Callable[[], None], *, sms: bool) -> None:
        if sms and self.sim_state == "ABSENT":
            self._send([], "+CMS ERROR: 310")
        elif sms and self.sim_state != "READY":
            self._send([], "+CMS ERROR: 311")
        else:
            then()

    def _cpin(self) -> None:
        if self.sim_state == "ABSENT":
            self._send([], "+CME ERROR: 10")
        else:
            self._send([f"+CPIN: {self.sim_state}"])
            if self.noise:
                self.write(b"\r\n^MODE:5,4\r\n")

    def _enter_pin(self, pin: str) -> None:
        self.pin_attempts.append(pin)
        if self.sim_state != "SIM PIN":
            self._send([], "+CME ERROR: 3")
        elif pin == self.pin:
            self.sim_state = "READY"
            self._send([])
        else:
            self._send([], "+CME ERROR: 16")
            if sum(p != self.pin for p in self.pin_attempts) >= 3:
                self.sim_state = "SIM PUK"

    def _cmgs(self, length: int) -> None:
        self.cmgs_at.append(time.monotonic())
        if self.sim_state != "READY":
            self._send([], "+CMS ERROR: 311")
            return
        if self.faults.vanish_before_prompt and len(self.submitted) >= self.faults.vanish_from:
            self.faults.vanish_before_prompt -= 1
            self.refusals.append(Refusal(None, "vanished before the prompt"))
            self._vanish()
            return
        self._pdu_length = length
        pieces = self.faults.prompts.popleft() if self.faults.prompts else (PROMPT,)
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(PROMPT_PAUSE)  # the driver reads what came so far
            self.write(piece.encode())

    def _submit(self, pdu: str, length: int) -> None:
        f = self.faults
        smsc_octets = int(pdu[:2], 16) + 1 if pdu else 0
        if len(pdu) // 2 - smsc_octets != length:
            self._send([], "+CMS ERROR: 304")  # the announced length does not match
            return
        decoded = decode_submit(pdu)  # our own decoder reads what the driver wrote
        answers = f.number_errors.get(decoded.number)
        if answers:
            self._refuse(decoded.number, answers.popleft())
            return
        if f.busy:
            self._refuse(decoded.number, f"+CME ERROR: {f.busy.popleft()}")
            return
        if f.cms:
            self._refuse(decoded.number, f"+CMS ERROR: {f.cms.popleft()}")
            return
        mr = self.next_mr
        self.next_mr = (self.next_mr + 1) % 256
        self.submitted.append(Submitted(mr, pdu, decoded))
        if f.vanish_after_pdu and len(self.submitted) > f.vanish_from:
            f.vanish_after_pdu -= 1
            self._vanish()
            return
        if f.silent:
            f.silent -= 1
            return
        if f.swallow_ok and len(self.submitted) > f.swallow_ok_from:
            f.swallow_ok -= 1
            self.write(f"\r\n+CMGS: {mr}\r\n".encode())  # sent, but the final OK is lost
        else:
            self._send([f"+CMGS: {mr}"])
        if self.reports and decoded.status_report_requested:
            self._report(build_status_report(mr, decoded.number), None)

    def _refuse(self, number: str, answer: str) -> None:
        self.refusals.append(Refusal(number, answer))
        self._send([], answer)

    def _vanish(self) -> None:
        self._unplug()
        if self.faults.replug_after is not None:
            timer = threading.Timer(self.faults.replug_after, self._replug_if_running)
            timer.daemon = True
            timer.start()

    def _replug_if_running(self) -> None:
        if self._running:
            self.replug()

    def _report(self, pdu: str, length: int | None) -> None:
        ds = self.cnmi.split(",")[3] if self.cnmi and self.cnmi.count(",") >= 3 else "0"
        if ds == "1":  # direct, TPDU only, as many modems print it
            tpdu = pdu[2 + 2 * int(pdu[:2], 16) :]
            self.write(f"\r\n+CDS: {length or len(tpdu) // 2}\r\n{tpdu}\r\n".encode())
        elif ds == "2":
            self._store(self.report_storage, pdu, urc="+CDSI")

    def _store(self, mem: str, pdu: str, *, urc: str) -> int:
        index = self.sim.put(mem, pdu, stat=0)
        if self.cnmi is not None and self.cnmi.split(",")[1] != "0":
            self.write(f'\r\n{urc}: "{mem}",{index}\r\n'.encode())
        return index
