"""What one modem is (ModemSpec, from config) and how patient the driver is (ModemSettings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModemSpec:
    """One USB modem and its SIM, as configured."""

    id: str
    port: str
    baudrate: int = 115200
    daily_limit: int = 200
    pace_seconds: float = 3.0
    pin: str | None = None
    smsc: str | None = None  # None: the SMSC stored on the SIM
    storage: str = "SM"  # where received messages are kept: SM (SIM) or ME (modem)
    count_segments: bool = False  # True: daily_limit counts segments, not messages


@dataclass(frozen=True, slots=True)
class ModemSettings:
    """Timeouts, retries and back-off of the driver; tests make them small."""

    command_seconds: float = 10.0  # final result of an ordinary command
    prompt_seconds: float = 10.0  # the "> " prompt after AT+CMGS=<n>
    send_seconds: float = 60.0  # the +CMGS answer once the PDU went out
    settle_seconds: float = 0.3  # quiet time after ESC before ATZ, to drop stale output
    busy_retries: int = 5  # +CME ERROR 14 (SIM busy) / 515 (device busy)
    busy_delay_seconds: float = 2.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    concat_timeout_seconds: float = 600.0  # multipart inbound: wait this long for parts
    sweep_seconds: float = 300.0  # re-list storage (missed +CMTI, failed hand-overs)
    tick_seconds: float = 1.0  # how often held parts are checked for their timeout
    report_keep: int = 2048  # sent parts whose delivery reports are awaited
    report_retry_seconds: float = 1.0  # a report the core cannot match yet: retried 5 times,
    # waiting this long, then twice as long each time (31 s in all by default)
