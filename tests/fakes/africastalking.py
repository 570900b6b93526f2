"""A fake Africa's Talking SMS API: a real aiohttp server on 127.0.0.1 with fault injection."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import re
import signal
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

logger = logging.getLogger(__name__)

SEND_PATH = "/version1/messaging"
AUTH_INVALID = "The supplied authentication is invalid"
COST_PER_SEGMENT = 0.8
_PHONE = re.compile(r"^\+\d{7,15}$")
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")
_NAMES = {101: "Success", 403: "InvalidPhoneNumber", 405: "InsufficientBalance"}
_NAMES |= {401: "RiskHold", 402: "InvalidSenderId", 404: "UnsupportedNumberType"}
_NAMES |= {406: "UserInBlacklist", 407: "CouldNotRoute", 409: "DoNotDisturbRejection"}
_NAMES |= {100: "Success", 102: "Success", 500: "InternalServerError", 501: "GatewayError"}
_NAMES |= {502: "RejectedByGateway"}


def count_segments(text: str) -> int:
    """Rough SMS part count: GSM-7 160/153 per part, else UCS-2 70/67 (UTF-16 units)."""
    if all(ch in _GSM or ch in _GSM_EXT for ch in text):
        units, single, multi = sum(2 if ch in _GSM_EXT else 1 for ch in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received, as it arrived."""

    timestamp: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    recipients: list[str]
    body: bytes
    response_status: int | None = None  # None: connection reset without an answer
    fault: str | None = None  # which injected fault answered it (http, delay, reset, ...)
    codes: dict[str, int] = field(default_factory=dict)  # per-recipient statusCode answered
    retry_after: str | None = None  # the Retry-After header answered, if any

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class AcceptedSms:
    """One recipient the fake accepted (statusCode 101)."""

    message_id: str
    number: str
    text: str
    sender_id: str | None
    segments: int
    timestamp: float


class _Budget:
    def __init__(self, count: int | None) -> None:
        self.remaining = count

    def take(self) -> bool:
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass(slots=True)
class _HttpFault:
    status: int
    budget: _Budget
    retry_after: str | None
    probability: float
    body: str


@dataclass(frozen=True, slots=True)
class ScriptedFault:
    """One fault for one numbered request: http (status, Retry-After), delay, reset, malformed."""

    kind: str
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class Faults:
    """Fault-injection controls; every method may be called while the server runs."""

    seed: int = 0
    rng: random.Random = field(init=False)
    number_status: dict[str, int] = field(default_factory=dict)
    balance_messages: int | None = None
    _http: _HttpFault | None = None
    _delay: tuple[float, _Budget] | None = None
    _reset: _Budget | None = None
    _malformed: _Budget | None = None
    _raw: tuple[int, str, _Budget] | None = None
    number_times: dict[str, int] = field(default_factory=dict)
    script: dict[int, ScriptedFault] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fail_http(
        self,
        status: int,
        count: int | None = None,
        retry_after: float | str | None = None,
        *,
        probability: float = 1.0,
        body: str | None = None,
    ) -> None:
        """Answer with HTTP `status` (count times, or forever), each time with `probability`."""
        text = body if body is not None else f"fake injected HTTP {status}"
        after = None if retry_after is None else str(retry_after)
        self._http = _HttpFault(status, _Budget(count), after, probability, text)

    def delay(self, seconds: float, count: int | None = None) -> None:
        """Wait `seconds` after reading each request before answering."""
        self._delay = (seconds, _Budget(count))

    def reset_connection(self, count: int | None = None) -> None:
        """Read the request, then close the connection without answering."""
        self._reset = _Budget(count)

    def malformed_json(self, count: int | None = None) -> None:
        """Answer 201 application/json with a truncated, unparseable body."""
        self._malformed = _Budget(count)

    def raw_response(self, body: str, *, status: int = 201, count: int | None = None) -> None:
        """Answer with this exact body as application/json (for odd provider answers)."""
        self._raw = (status, body, _Budget(count))

    def set_number_status(self, number: str, status_code: int, *, times: int | None = None) -> None:
        """Give messages to `number` this per-recipient statusCode (the next `times`, or all)."""
        self.number_status[number] = status_code
        if times is None:
            self.number_times.pop(number, None)
        else:
            self.number_times[number] = times

    def on_request(
        self,
        index: int,
        kind: str,
        *,
        status: int = 500,
        retry_after: float | str | None = None,
        seconds: float = 0.0,
    ) -> None:
        """Answer request number `index` (0-based, every request counts) with one fault."""
        if kind not in ("http", "delay", "reset", "malformed"):
            raise ValueError(f"unknown scripted fault {kind!r}")
        after = None if retry_after is None else str(retry_after)
        self.script[index] = ScriptedFault(kind, status, after, seconds)

    def insufficient_balance_after(self, n_messages: int) -> None:
        """Accept `n_messages` more recipients in total, then answer 405 for every recipient."""
        self.balance_messages = n_messages

    def clear(self) -> None:
        """Remove every injected fault."""
        self.number_status.clear()
        self.number_times.clear()
        self.script.clear()
        self.balance_messages = None
        self._http = self._delay = self._reset = self._malformed = self._raw = None


class FakeAfricasTalking:
    """Serve POST /version1/messaging like AT's bulk SMS API; record everything."""

    def __init__(
        self,
        *,
        username: str = "sandbox",
        api_key: str = "fake-at-api-key",
        port: int = 0,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.username = username
        self.api_key = api_key
        self.port = port
        self.ssl_context = ssl_context
        self.faults = Faults(seed)
        self.requests: list[RecordedRequest] = []
        self.accepted: list[AcceptedSms] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start listening on 127.0.0.1; return the base URL (no path)."""
        app = web.Application()
        app.router.add_post(SEND_PATH, self._handle)
        self._runner = web.AppRunner(
            app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        scheme = "https" if self.ssl_context else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop the server and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAfricasTalking:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        recipients = [n.strip() for n in form.get("to", "").split(",") if n.strip()]
        rec = RecordedRequest(
            time.monotonic(), request.method, request.path, dict(request.headers), form,
            recipients, body,
        )  # fmt: skip
        self.requests.append(rec)
        response = await self._respond(request, rec)
        rec.response_status = None if response is None else response.status
        if response is None:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing may be written now
        return response

    async def _respond(self, request: web.Request, rec: RecordedRequest) -> web.Response | None:
        faults = self.faults
        if rec.header("apiKey") != self.api_key or rec.form.get("username") != self.username:
            return web.Response(status=401, text=AUTH_INVALID)
        scripted = faults.script.pop(len(self.requests) - 1, None)
        if scripted is not None:
            return await self._scripted(rec, scripted)
        if faults._delay is not None and faults._delay[1].take():
            rec.fault = "delay"
            await asyncio.sleep(faults._delay[0])
        if faults._reset is not None and faults._reset.take():
            rec.fault = "reset"
            return None
        http = faults._http
        if http is not None and faults.rng.random() < http.probability and http.budget.take():
            rec.fault, rec.retry_after = "http", http.retry_after
            headers = {} if http.retry_after is None else {"Retry-After": http.retry_after}
            return web.Response(status=http.status, text=http.body, headers=headers)
        if faults._raw is not None and faults._raw[2].take():
            rec.fault = "raw"
            return _json(faults._raw[0], faults._raw[1].encode())
        if faults._malformed is not None and faults._malformed.take():
            rec.fault = "malformed"
            return _json(201, _MALFORMED)
        for name in ("to", "message"):
            if not rec.form.get(name):
                return web.Response(status=400, text=f"Request is missing required field '{name}'")
        return _json(201, json.dumps(self._build(rec)).encode())

    async def _scripted(self, rec: RecordedRequest, fault: ScriptedFault) -> web.Response | None:
        rec.fault = fault.kind
        if fault.kind == "http":
            rec.retry_after = fault.retry_after
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            return web.Response(status=fault.status, text="fake scripted fault", headers=headers)
        if fault.kind == "reset":
            return None
        if fault.kind == "malformed":
            return _json(201, _MALFORMED)
        await asyncio.sleep(fault.seconds)  # delay: answer normally, but late
        return _json(201, json.dumps(self._build(rec)).encode())

    def _build(self, rec: RecordedRequest) -> dict[str, Any]:
        text, sender = rec.form["message"], rec.form.get("from")
        segments = count_segments(text)
        entries, sent, total = [], 0, 0.0
        for number in rec.recipients:
            code = self._number_code(number)
            if code is None:
                code = 101 if _PHONE.match(number) else 403
            if code in (100, 101, 102) and self.faults.balance_messages is not None:
                if self.faults.balance_messages <= 0:
                    code = 405
                else:
                    self.faults.balance_messages -= 1
            entry: dict[str, Any] = {"statusCode": code, "number": number}
            entry["status"] = _NAMES.get(code, "Failed")
            if code in (100, 101, 102):
                cost = COST_PER_SEGMENT * segments
                entry |= {"cost": f"KES {cost:.4f}", "messageId": f"ATXid_{uuid.uuid4().hex}"}
                entry["messageParts"] = segments
                self.accepted.append(
                    AcceptedSms(entry["messageId"], number, text, sender, segments, rec.timestamp)
                )
                sent, total = sent + 1, total + cost
            else:
                entry |= {"cost": "0", "messageId": "None"}
            entries.append(entry)
            rec.codes[number] = code
        summary = f"Sent to {sent}/{len(rec.recipients)} Total Cost: KES {total:.4f}"
        return {"SMSMessageData": {"Message": summary, "Recipients": entries}}

    def _number_code(self, number: str) -> int | None:
        code = self.faults.number_status.get(number)
        times = self.faults.number_times.get(number)
        if code is not None and times is not None:
            if times <= 1:
                del self.faults.number_status[number], self.faults.number_times[number]
            else:
                self.faults.number_times[number] = times - 1
        return code


_MALFORMED = b'{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.'


def _json(status: int, body: bytes) -> web.Response:
    # Exactly "application/json" (no charset), as AT sends it; the official SDK compares it.
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeAfricasTalking(
        username=args.username, api_key=args.api_key, port=args.port, seed=args.seed
    )
    if args.fail_rate > 0:
        fake.faults.fail_http(500, probability=args.fail_rate)
    if args.delay > 0:
        fake.faults.delay(args.delay)
    url = await fake.start()
    print(f"listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()
        print(f"accepted {len(fake.accepted)} message(s) in {len(fake.requests)} request(s)")


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone: python -m tests.fakes.africastalking --port N."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username", default="sandbox")
    parser.add_argument("--api-key", default="fake-at-api-key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="probability of HTTP 500")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
