"""Africa's Talking gateway, callback parsers and fake server: wire format, outcomes, failures."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl

import africastalking
import aiohttp
import pytest
from multidict import MultiDict

from gateway.africastalking.callbacks import (
    STATUS_TABLE,
    parse_delivery_report,
    parse_inbound,
)
from gateway.africastalking.sender import (
    AUTH_FAILED,
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    TABLE,
    AfricasTalkingGateway,
    build_ssl_context,
    parse_retry_after,
)
from gateway.base import (
    DeliveryStatus,
    Gateway,
    GatewayAmbiguousError,
    GatewayError,
    OutgoingMessage,
    PayloadError,
    SendOutcome,
)
from tests.fakes.africastalking import AUTH_INVALID, FakeAfricasTalking, count_segments

logger = logging.getLogger(__name__)

API_KEY = "atsk_test_5f3c0e9a7b1d4e2f8a6c"  # distinctive, so a leak is easy to spot
FIXTURES = Path(__file__).parent / "fixtures" / "africastalking"
ROOT = Path(__file__).resolve().parent.parent
ONE = "+254711000001"
TEXT = "Exam timetable: CS101 Mon 9am, Hall B. Reply STOP to opt out"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAfricasTalking]:
    async with FakeAfricasTalking(username="sandbox", api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def gateway_for(
    session: aiohttp.ClientSession, base_url: str, **kwargs: Any
) -> AfricasTalkingGateway:
    kwargs.setdefault("api_key", API_KEY)
    return AfricasTalkingGateway(session=session, username="sandbox", base_url=base_url, **kwargs)


def message(*recipients: str, text: str = TEXT) -> OutgoingMessage:
    return OutgoingMessage(text=text, recipients=list(recipients or (ONE,)))


# --- wire format: the official SDK is the reference client ------------------------------


@pytest.mark.parametrize(("sender_id", "enqueue"), [(None, False), ("UNIVERSITY", True)])
async def test_gateway_request_matches_official_sdk(
    fake: FakeAfricasTalking,
    session: aiohttp.ClientSession,
    *,
    monkeypatch: pytest.MonkeyPatch,
    sender_id: str | None,
    enqueue: bool,
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    sdk = africastalking.SMSService("sandbox", API_KEY)
    sdk._baseUrl = fake.base_url + "/version1"  # the SDK's only URL knob
    recipients = ["+254711000001", "+254722000002"]
    sdk_answer = await asyncio.to_thread(
        sdk.send, TEXT, recipients, sender_id=sender_id, enqueue=enqueue
    )
    gw = gateway_for(session, fake.base_url, sender_id=sender_id, enqueue=enqueue)
    results = await gw.send(message(*recipients))

    sdk_req, our_req = fake.requests
    assert our_req.method == sdk_req.method == "POST"
    assert our_req.path == sdk_req.path == "/version1/messaging"
    assert our_req.form == sdk_req.form
    assert list(our_req.form) == list(sdk_req.form)
    assert our_req.form["bulkSMSMode"] == "1"
    assert ("from" in our_req.form) is (sender_id is not None)
    assert ("enqueue" in our_req.form) is enqueue
    for name in ("apiKey", "Accept"):
        assert our_req.header(name) == sdk_req.header(name)
    for req in (sdk_req, our_req):
        assert req.header("Content-Type") == "application/x-www-form-urlencoded"
    # The SDK only decodes JSON when Content-Type is exactly application/json.
    assert isinstance(sdk_answer, dict)
    entries = sdk_answer["SMSMessageData"]["Recipients"]
    assert [(e["number"], e["statusCode"], e["status"]) for e in entries] == [
        (n, 101, "Success") for n in recipients
    ]
    assert entries[0]["messageId"].startswith("ATXid_")
    assert [r.outcome for r in results] == [SendOutcome.ACCEPTED] * 2
    assert len(fake.accepted) == 4


@pytest.mark.parametrize(
    ("username", "base_url", "environment", "host"),
    [
        ("sandbox", None, "sandbox", "api.sandbox.africastalking.com"),
        ("univ_prod", None, "production", "api.africastalking.com"),
        ("univ_prod", "http://127.0.0.1:8081/", "custom", "127.0.0.1:8081"),
    ],
)
async def test_base_url_derivation_matches_sdk(
    session: aiohttp.ClientSession,
    username: str,
    *,
    base_url: str | None,
    environment: str,
    host: str,
) -> None:
    gw = AfricasTalkingGateway(
        session=session, username=username, api_key=API_KEY, base_url=base_url
    )
    assert isinstance(gw, Gateway)
    health = gw.health()
    assert (health["environment"], health["host"], health["kind"]) == (
        environment,
        host,
        "africastalking",
    )
    if base_url is None:
        assert gw.base_url + "/version1" == africastalking.SMSService(username, "k")._baseUrl
        expected = SANDBOX_BASE_URL if username == "sandbox" else PRODUCTION_BASE_URL
        assert gw.base_url == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"api_key": " "}, {"timeout_seconds": 0}, {"max_recipients_per_request": 0}],
)
def test_constructor_rejects_bad_config(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        gateway_for(cast(aiohttp.ClientSession, None), "https://example.invalid", **kwargs)


# --- per-recipient outcomes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome", "reason"),
    [(code, outcome, "" if outcome is SendOutcome.ACCEPTED else name)
     for code, (outcome, name) in TABLE.items()]
    + [(999, SendOutcome.PERMANENT, "unknown statusCode 999")],
)  # fmt: skip
async def test_status_code_outcomes(
    fake: FakeAfricasTalking,
    session: aiohttp.ClientSession,
    *,
    code: int,
    outcome: SendOutcome,
    reason: str,
) -> None:
    fake.faults.set_number_status(ONE, code)
    [result] = await gateway_for(session, fake.base_url).send(message())
    assert (result.phone, result.outcome, result.status_code, result.reason) == (
        ONE,
        outcome,
        code,
        reason,
    )
    if outcome is SendOutcome.ACCEPTED:
        assert result.provider_id and result.provider_id.startswith("ATXid_")
        assert result.cost == "KES 0.8000"
    else:
        assert result.provider_id is None  # AT's "None" string
        assert result.cost == "0"


async def test_mixed_recipients_keep_request_order(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    fake.faults.set_number_status("+254722000002", 406)
    fake.faults.set_number_status("+254733000003", 409)
    long_text = "Reminder: " + "x" * 190  # 200 GSM characters: two parts
    numbers = ["+254711000001", "+254722000002", "0712", "+254733000003", "+254744000004"]
    results = await gateway_for(session, fake.base_url).send(message(*numbers, text=long_text))
    assert [r.phone for r in results] == numbers
    assert [r.outcome for r in results] == [
        SendOutcome.ACCEPTED,
        SendOutcome.BLACKLISTED,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.ACCEPTED,
    ]
    assert [r.reason for r in results][1:4] == [
        "UserInBlacklist",
        "InvalidPhoneNumber",
        "DoNotDisturbRejection",
    ]
    assert results[0].segments == 2 and results[0].cost == "KES 1.6000"
    assert len({r.provider_id for r in results if r.provider_id}) == 2


async def test_insufficient_balance_after_n(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    fake.faults.insufficient_balance_after(2)
    results = await gateway_for(session, fake.base_url).send(
        message("+254711000001", "+254711000002", "+254711000003")
    )
    assert [r.outcome for r in results] == [SendOutcome.ACCEPTED] * 2 + [
        SendOutcome.INSUFFICIENT_BALANCE
    ]


@pytest.mark.parametrize(
    ("recipients_json", "message_field", "expected"),
    [
        # number missing from the answer: it was not sent, so it may be retried
        ('[{"statusCode": 101, "number": "+254711000001", "messageId": "ATXid_a"}]', "",
         [SendOutcome.ACCEPTED, SendOutcome.TEMPORARY]),
        # numbers without '+', reversed order, old answers without statusCode
        ('[{"number": "254711000002", "status": "InvalidPhoneNumber", "messageId": "None"},'
         ' {"number": "254711000001", "status": "Success", "messageId": "ATXid_b"}]', "",
         [SendOutcome.ACCEPTED, SendOutcome.PERMANENT]),
        ('[{"number": "+254711000001", "status": "Could Not Send"},'
         ' {"statusCode": "405", "number": "+254711000002"}]', "",
         [SendOutcome.PERMANENT, SendOutcome.INSUFFICIENT_BALANCE]),
        # whole-request rejection named in Message with no Recipients
        ("[]", "InvalidSenderId", [SendOutcome.PERMANENT, SendOutcome.PERMANENT]),
        ("[]", "Sent to 0/2 Total Cost: 0", [SendOutcome.TEMPORARY, SendOutcome.TEMPORARY]),
    ],
)  # fmt: skip
async def test_odd_provider_answers(
    fake: FakeAfricasTalking,
    session: aiohttp.ClientSession,
    *,
    recipients_json: str,
    message_field: str,
    expected: list[SendOutcome],
) -> None:
    smd = f'{{"Message": "{message_field}", "Recipients": {recipients_json}}}'
    body = f'{{"SMSMessageData": {smd}}}'
    fake.faults.raw_response(body)
    results = await gateway_for(session, fake.base_url).send(
        message("+254711000001", "+254711000002")
    )
    assert [r.outcome for r in results] == expected
    if expected[1] is SendOutcome.TEMPORARY:
        assert results[1].reason == "missing from provider response"


async def test_recipient_limits(fake: FakeAfricasTalking, session: aiohttp.ClientSession) -> None:
    gw = gateway_for(session, fake.base_url, max_recipients_per_request=2)
    assert await gw.send(OutgoingMessage(text="hi", recipients=[])) == []
    with pytest.raises(ValueError, match="max_recipients_per_request"):
        await gw.send(message("+254711000001", "+254711000002", "+254711000003"))
    assert fake.requests == []


# --- whole-request failures ---------------------------------------------------------------


async def test_wrong_api_key_is_permanent(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    gw = gateway_for(session, fake.base_url, api_key="wrong-key")
    with pytest.raises(GatewayError) as info:
        await gw.send(message())
    assert not isinstance(info.value, GatewayAmbiguousError)
    assert info.value.temporary is False
    assert str(info.value) == AUTH_FAILED
    assert fake.requests[0].response_status == 401
    assert gw.health()["errors"] == 1 and gw.health()["last_error"] == AUTH_FAILED


async def test_session_raise_for_status_does_not_change_outcomes(fake: FakeAfricasTalking) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as strict:
        fake.faults.fail_http(500, count=1)
        with pytest.raises(GatewayError) as info:
            await gateway_for(strict, fake.base_url).send(message())
        assert not isinstance(info.value, GatewayAmbiguousError) and info.value.temporary


@pytest.mark.parametrize(
    ("status", "retry_after", "temporary", "ambiguous", "expected_wait"),
    [
        (429, "7", True, False, 7.0),
        (500, None, True, False, None),
        (503, "Wed, 21 Oct 2015 07:28:00 GMT", True, False, 0.0),  # a date in the past
        (502, "3", True, True, 3.0),
        (504, None, True, True, None),
        (400, None, False, False, None),
        (403, None, False, False, None),
        (301, None, False, False, None),  # never follow a redirect with a POST
    ],
)
async def test_http_errors(
    fake: FakeAfricasTalking,
    session: aiohttp.ClientSession,
    *,
    status: int,
    retry_after: str | None,
    temporary: bool,
    ambiguous: bool,
    expected_wait: float | None,
) -> None:
    fake.faults.fail_http(status, count=1, retry_after=retry_after, body="oops " + "z" * 500)
    gw = gateway_for(session, fake.base_url)
    with pytest.raises(GatewayError) as info:
        await gw.send(message())
    assert isinstance(info.value, GatewayAmbiguousError) is ambiguous
    assert info.value.temporary is temporary
    assert info.value.retry_after == expected_wait
    assert f"HTTP {status}" in str(info.value) and "oops" in str(info.value)
    assert len(str(info.value)) < 300  # body truncated
    [result] = await gw.send(message())  # the fault was for one request only
    assert result.outcome is SendOutcome.ACCEPTED


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Fri, 20 Nov 2026 09:00:30 GMT", now=now) == 30.0
    for bad in (None, "", "soon", "nan", "-5"):
        assert parse_retry_after(bad, now=now) in (None, 0.0)


async def test_timeout_after_sending_is_ambiguous(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    fake.faults.delay(2.0)
    gw = gateway_for(session, fake.base_url, timeout_seconds=0.3)
    with pytest.raises(GatewayAmbiguousError):
        await gw.send(message())
    assert len(fake.requests) == 1  # the provider did receive it


async def test_connection_reset_is_ambiguous(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    fake.faults.reset_connection(count=1)
    with pytest.raises(GatewayAmbiguousError, match="may have accepted"):
        await gateway_for(session, fake.base_url).send(message())
    assert fake.requests[0].response_status is None


@pytest.mark.parametrize(
    "body", ["", '{"SMSMessageData": ', '{"error": "x"}', '{"SMSMessageData": {"Recipients": 3}}']
)
async def test_unreadable_2xx_is_ambiguous(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession, body: str
) -> None:
    fake.faults.raw_response(body)
    with pytest.raises(GatewayAmbiguousError):
        await gateway_for(session, fake.base_url).send(message())


async def test_malformed_json_is_ambiguous(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    fake.faults.malformed_json(count=1)
    with pytest.raises(GatewayAmbiguousError, match="not JSON"):
        await gateway_for(session, fake.base_url).send(message())


async def test_connection_refused_is_temporary_not_ambiguous(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GatewayError) as info:
        await gateway_for(session, f"http://127.0.0.1:{port}").send(message())
    assert not isinstance(info.value, GatewayAmbiguousError)
    assert info.value.temporary is True
    assert str(info.value).startswith(f"cannot connect to 127.0.0.1:{port}")


async def test_api_key_never_logged_or_exposed(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = gateway_for(session, fake.base_url, timeout_seconds=0.5)
    errors: list[str] = []
    await gw.send(message())
    fake.faults.raw_response(f"bad request for key {API_KEY}", status=400, count=1)
    fake.faults.reset_connection(count=1)
    for _ in range(2):
        with pytest.raises(GatewayError) as info:
            await gw.send(message())
        errors.append(str(info.value))
    with pytest.raises(GatewayError) as info:
        await gateway_for(session, fake.base_url, api_key=API_KEY + "x").send(message())
    errors.append(str(info.value))
    assert any("[redacted]" in e for e in errors)
    exposed = caplog.text + "\n".join(errors) + json.dumps(gw.health()) + repr(gw)
    assert API_KEY not in exposed
    assert gw.health()["requests"] == 3 and gw.health()["errors"] == 2


# --- TLS ----------------------------------------------------------------------------------


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_verification(
    self_signed: tuple[Path, Path],
    session: aiohttp.ClientSession,
    *,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    async with FakeAfricasTalking(api_key=API_KEY, ssl_context=server_ctx) as tls_fake:
        assert tls_fake.base_url.startswith("https://")
        with pytest.raises(GatewayError) as info:
            await gateway_for(session, tls_fake.base_url).send(message())
        assert info.value.temporary is False
        assert "TLS verification" in str(info.value) and "ca_bundle" in str(info.value)
        trusted = build_ssl_context(ca_bundle=str(cert), verify=True)
        [result] = await gateway_for(session, tls_fake.base_url, ssl=trusted).send(message())
        assert result.outcome is SendOutcome.ACCEPTED
    with caplog.at_level(logging.WARNING):
        assert build_ssl_context(ca_bundle=None, verify=False) is False
    assert "DISABLED" in caplog.text
    with pytest.raises(ValueError, match="ca_bundle"):
        build_ssl_context(ca_bundle=str(cert.parent / "missing.pem"), verify=True)


# --- the fake itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("{" * 80, 1),
     ("ü" * 160, 1), ("Habari 👍", 1), ("ж" * 70, 1), ("ж" * 71, 2), ("ж" * 135, 3)],
)  # fmt: skip
def test_count_segments(text: str, parts: int) -> None:
    assert count_segments(text) == parts


async def test_fake_wrong_key_and_content_type(
    fake: FakeAfricasTalking, session: aiohttp.ClientSession
) -> None:
    url = fake.base_url + "/version1/messaging"
    form = {"username": "sandbox", "to": ONE, "message": "hi"}
    async with session.post(url, data=form, headers={"apiKey": "nope"}) as resp:
        assert (resp.status, await resp.text()) == (401, AUTH_INVALID)
    async with session.post(url, data=form, headers={"apiKey": API_KEY}) as resp:
        assert resp.status == 201 and resp.headers["Content-Type"] == "application/json"
    async with session.get(fake.base_url + "/version1/user") as resp:
        assert resp.status in (404, 405)


async def test_fake_probabilistic_failures_are_seeded(session: aiohttp.ClientSession) -> None:
    outcomes: list[list[bool]] = []
    for _ in range(2):
        async with FakeAfricasTalking(api_key=API_KEY, seed=7) as server:
            server.faults.fail_http(500, probability=0.2)
            gw = gateway_for(session, server.base_url)
            row = []
            for _ in range(30):
                try:
                    await gw.send(message())
                    row.append(True)
                except GatewayError:
                    row.append(False)
            outcomes.append(row)
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0].count(False) < 15


async def test_fake_runs_standalone(session: aiohttp.ClientSession) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.africastalking", "--port", "0",
        "--api-key", API_KEY, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.removeprefix("listening on ")
        [result] = await gateway_for(session, base_url).send(message())
        assert result.outcome is SendOutcome.ACCEPTED
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert b"accepted 1 message(s) in 1 request(s)" in out


# --- callback parsers ---------------------------------------------------------------------


def load_form(name: str) -> dict[str, str]:
    body = (FIXTURES / name).read_text(encoding="utf-8")
    parsed = parse_qs(body, keep_blank_values=True, strict_parsing=True)
    return {key: values[0] for key, values in parsed.items()}


@pytest.mark.parametrize(
    ("fixture", "status", "provider_status", "phone", "reason", "retries"),
    [
        ("dlr_success.txt", DeliveryStatus.DELIVERED, "Success", "+254711XXXYYY", None, 0),
        ("dlr_failed_blacklist.txt", DeliveryStatus.FAILED, "Failed", "+254722000111",
         "UserInBlackList", 2),
        ("dlr_rejected_dnd.txt", DeliveryStatus.REJECTED, "Rejected", "+254733000222",
         "DoNotDisturbRejection", 0),
        ("dlr_buffered.txt", DeliveryStatus.BUFFERED, "Buffered", "+254711000333", None, 1),
        ("dlr_absent_subscriber.txt", DeliveryStatus.FAILED, "AbsentSubscriber",
         "+254711000444", "DeliveryFailure", 3),
        ("dlr_sent_no_retry.txt", DeliveryStatus.SENT, "Sent", "+254711000555", None, None),
    ],
)  # fmt: skip
def test_parse_delivery_report_fixtures(
    fixture: str,
    status: DeliveryStatus,
    *,
    provider_status: str,
    phone: str,
    reason: str | None,
    retries: int | None,
) -> None:
    body = (FIXTURES / fixture).read_text(encoding="utf-8")
    for form in (load_form(fixture), MultiDict(parse_qsl(body, keep_blank_values=True))):
        report = parse_delivery_report(form)
        assert report.gateway == "africastalking"
        assert report.provider_id.startswith("ATXid_")
        assert (report.status, report.provider_status, report.phone) == (
            status,
            provider_status,
            phone,
        )
        assert (report.failure_reason, report.retry_count) == (reason, retries)
        assert report.network_code is not None and report.network_code.startswith("639")


@pytest.mark.parametrize("provider_status", list(STATUS_TABLE))
def test_every_documented_status_maps(provider_status: str) -> None:
    report = parse_delivery_report({"id": "ATXid_1", "status": provider_status}, gateway="at2")
    assert report.gateway == "at2" and report.status is STATUS_TABLE[provider_status]
    final = provider_status not in ("Sent", "Submitted", "Buffered")
    assert report.status.is_final is final


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"status": "Success"}, "id: missing"),
        ({"id": "  ", "status": "Success"}, "id: empty"),
        ({"id": "ATXid_1"}, "status: missing"),
        ({"id": "ATXid_1", "status": "Delivered"}, "status: unknown value 'Delivered'"),
        ({"id": "ATXid_1", "status": "success"}, "status: unknown value"),
        ({"id": "ATXid_1", "status": "Success", "retryCount": "-1"}, "retryCount"),
        ({"id": "ATXid_1", "status": "Success", "retryCount": "two"}, "retryCount"),
        ({"id": "ATXid_1", "status": "Success", "retryCount": "1.5"}, "retryCount"),
        ({"id": "ATXid_\x001", "status": "Success"}, "id: contains a NUL"),
        ({"id": "ATXid_1", "status": "Success", "phoneNumber": "\udcff"}, "phoneNumber: not"),
        ({"id": "x" * 501, "status": "Success"}, "id: too long"),
    ],
)
def test_parse_delivery_report_rejects(form: dict[str, str], error: str) -> None:
    with pytest.raises(PayloadError, match=error.replace("(", r"\(")):
        parse_delivery_report(form)


@pytest.mark.parametrize(
    ("fixture", "sender", "text", "received_at", "link_id"),
    [
        ("inbound_plain.txt", "+254711XXXYYY", "Hello CS101, when is the exam?",
         datetime(2026, 11, 20, 9, 15, 3, tzinfo=UTC), "SampleLinkId123"),
        ("inbound_unicode_iso_date.txt", "+254722000111", "Habari! Nimepata 👍",
         datetime(2026, 11, 20, 9, 15, 3, 123000, tzinfo=UTC), None),
        ("inbound_empty_text.txt", "+254733000222", "",
         datetime(2026, 11, 20, 9, 15, 3, tzinfo=UTC), None),
    ],
)  # fmt: skip
def test_parse_inbound_fixtures(
    fixture: str, sender: str, text: str, received_at: datetime, link_id: str | None
) -> None:
    sms = parse_inbound(load_form(fixture))
    assert (sms.gateway, sms.sender, sms.recipient, sms.text) == (
        "africastalking",
        sender,
        "20880",
        text,
    )
    assert sms.received_at == received_at and sms.received_at.tzinfo is not None
    assert sms.link_id == link_id
    assert sms.provider_id.startswith("ATXid_inbound")


def test_parse_inbound_accepts_parse_qs_and_multidict_shapes() -> None:
    body = (FIXTURES / "inbound_plain.txt").read_text(encoding="utf-8")
    raw = parse_qs(body, keep_blank_values=True)
    assert parse_inbound(cast(Any, raw)).text == "Hello CS101, when is the exam?"
    assert parse_inbound(MultiDict(parse_qsl(body))).network_code == "63902"
    # parse_qs without keep_blank_values silently drops an empty text: the parser says so.
    empty = (FIXTURES / "inbound_empty_text.txt").read_text(encoding="utf-8")
    dropped = {k: v[0] for k, v in parse_qs(empty).items()}
    with pytest.raises(PayloadError, match="text: missing"):
        parse_inbound(dropped)


GOOD_INBOUND = {"from": "+254711000001", "id": "ATXid_in1", "text": "hi", "to": "20880"}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"from": None}, "from: missing"),
        ({"id": None}, "id: missing"),
        ({"to": None}, "to: missing"),
        ({"text": None}, "text: missing"),
        ({"from": ""}, "from: empty"),
        ({"text": "a" * 5001}, r"text: too long \(5001 characters\)"),
        ({"text": "nul\x00byte"}, "text: contains a NUL"),
        ({"text": "bad \ud800 surrogate"}, "text: not valid"),
        ({"linkId": "x\x00"}, "linkId: contains a NUL"),
    ],
)
def test_parse_inbound_rejects(changes: dict[str, str | None], error: str) -> None:
    form = {k: v for k, v in ({**GOOD_INBOUND, **changes}).items() if v is not None}
    with pytest.raises(PayloadError, match=error):
        parse_inbound(form)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2026-11-20 09:15:03", datetime(2026, 11, 20, 9, 15, 3, tzinfo=UTC)),
        ("2026-11-20T12:15:03+03:00", datetime(2026, 11, 20, 9, 15, 3, tzinfo=UTC)),
        ("yesterday", None),
    ],
)
def test_parse_inbound_dates(date: str, expected: datetime | None) -> None:
    sms = parse_inbound({**GOOD_INBOUND, "date": date, "text": "a" * 5000})
    assert sms.received_at == expected and len(sms.text) == 5000
