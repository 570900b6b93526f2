"""Four-eyes on the audience frozen at approval; every path that resends broadcast rows, and
pause/resume, go through the same rules; refusals change nothing; a daily one-to-one cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.config.loader import load_config
from bot.config.types import Config
from bot.core import Core
from bot.server import CORE, build_app
from handlers.entry import main
from handlers.routes import add_routes
from tests.conftest import attach_watch
from tests.support import db
from tests.support.base import (
    ADMIN_TOKEN,
    API_TOKEN,
    DEAN_TOKEN,
    make_config,
    seed_contacts,
    write_config,
)
from tests.support.chat import APPROVER, STAFF
from tests.support.rig import wait_state
from tests.support.security import all_fronts, changed_tables

JOINERS = "Name,Phone,Club\n" + "".join(f"Joiner {i},0713{i:06d},ICT\n" for i in range(2995))
FIVE = "club:ict,club:chess,+254712345005"  # 2 + 2 + 1 of the seeded contacts


class App:
    """The real app on 127.0.0.1 and a REST client of it."""

    def __init__(self, server: TestServer, session: ClientSession, config: Config):
        self.server = server
        self.session = session
        self.config = config

    @property
    def core(self) -> Core:
        """The running app's core."""
        core: Core = self.server.app[CORE]
        return core

    async def post(self, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        """POST JSON with a bearer token; the status and the JSON answer."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(self.server.make_url(path), json=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def cli(self, *args: str) -> int:
        """Run `smsops` against the app's database file, in a thread; the exit code."""
        code = await asyncio.to_thread(main, ["--config", str(self.config.path), *args])
        attach_watch()  # the CLI's logging set-up replaced the root handlers
        return code

    async def snapshot(self) -> db.Snapshot:
        """Every table's rows, without the audit rows that record refusals."""
        return await db.snapshot(self.core.db, refusals=False)


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[App]:
    """The app built from `config` with the small contact list imported."""
    server = TestServer(build_app(config, mount=add_routes), host="127.0.0.1")
    await server.start_server()
    try:
        await seed_contacts(server.app[CORE], config.path.parent)
        async with ClientSession() as session:
            yield App(server, session, config)
    finally:
        await server.close()


async def grow(app: App) -> None:
    """2,995 new contacts join club:ict after the preview."""
    await seed_contacts(app.core, app.config.path.parent, JOINERS)


async def compose(app: App, token: str, audience: str = FIVE, **extra: Any) -> dict[str, Any]:
    """Compose through REST; the broadcast's JSON."""
    status, body = await app.post(
        "/api/v1/broadcasts", token, {"audience": audience, "message": "Exam at 9", **extra}
    )
    assert status == 201, body
    return dict(body)


async def refused(app: App, call: Any, *, status: int, says: str) -> None:
    """`call` (a coroutine answering (status, body)) is refused and changes nothing."""
    before = await app.snapshot()
    got, body = await call
    assert got == status and says in body["error"]["message"], body
    assert await app.snapshot() == before


async def test_a_grown_draft_cannot_be_confirmed_by_its_requester(tmp_path: Path) -> None:
    async with running(make_config(tmp_path, threshold=10)) as app:
        b = await compose(app, DEAN_TOKEN)
        assert b["state"] == "draft" and b["preview"]["recipients"] == 5
        await grow(app)
        path = f"/api/v1/broadcasts/{b['id']}/approve"
        for token, says in ((DEAN_TOKEN, "cannot approve your own"), (API_TOKEN, "only approvers")):
            await refused(app, app.post(path, token), status=403, says=says)
        status, body = await app.post(path, DEAN_TOKEN)
        assert "(preview showed 5, now 3,000)" in body["error"]["message"]
        assert await db.count_rows(app.core.db, "outbox") == 0
        status, body = await app.post(path, ADMIN_TOKEN)
        assert status == 200 and body["outcome"] == "approved", body
        assert body["detail"].endswith("3000 recipients queued (preview showed 5, now 3,000)")
        assert await db.count_rows(app.core.db, "outbox", broadcast_id=b["id"]) == 3000


async def test_growth_past_the_second_threshold_needs_a_second_approver(tmp_path: Path) -> None:
    async with running(make_config(tmp_path, threshold=3, second=100)) as app:
        b = await compose(app, DEAN_TOKEN)
        assert b["state"] == "awaiting_approval" and b["approvals_needed"] == 1
        await grow(app)
        path = f"/api/v1/broadcasts/{b['id']}/approve"
        status, body = await app.post(path, ADMIN_TOKEN)
        assert status == 200 and body["outcome"] == "waiting", body
        assert body["detail"] == "approved; 1 more approver needed (preview showed 5, now 3,000)"
        assert body["approvals_needed"] == 2 and body["state"] == "awaiting_approval"
        assert await db.count_rows(app.core.db, "outbox") == 0
        await refused(app, app.post(path, DEAN_TOKEN), status=403, says="your own")
        await refused(app, app.post(path, ADMIN_TOKEN), status=409, says="already approved")
        bursar = app.config.people["bursar"]
        decision = await app.core.broadcasts.approve(b["id"], person=bursar)
        assert decision.outcome == "approved" and decision.view.recipients == 3000


async def test_a_draft_grown_past_both_thresholds_waits_for_two_approvers(tmp_path: Path) -> None:
    async with running(make_config(tmp_path, threshold=10, second=100)) as app:
        b = await compose(app, API_TOKEN)
        await grow(app)
        status, body = await app.post(f"/api/v1/broadcasts/{b['id']}/approve", ADMIN_TOKEN)
        assert status == 200 and body["outcome"] == "waiting", body
        assert body["state"] == "awaiting_approval" and body["approvals_needed"] == 2


async def finished_with_unknowns(app: App) -> int:
    """A broadcast by the dean, approved by the admin and sent, two rows made unknown and one
    failed, as a crash and a refusing network would leave them; its id."""
    b = await compose(app, DEAN_TOKEN, audience="club:ict,club:chess")
    status, body = await app.post(f"/api/v1/broadcasts/{b['id']}/approve", ADMIN_TOKEN)
    assert status == 200, body
    await wait_state(app.core, b["id"], "done")
    async with asyncio.timeout(10):  # and every delivery report is in
        while (await app.core.broadcasts.view(b["id"])).counts.delivered < 4:
            await asyncio.sleep(0.02)
    ids = [r["id"] for r in await db.outbox_rows(app.core.db, "id", broadcast_id=b["id"])]
    await db.update_outbox(app.core.db, {"state": "unknown"}, id=tuple(ids[:2]))
    await db.update_outbox(app.core.db, {"state": "failed"}, id=ids[2])
    return int(b["id"])


async def test_retry_of_a_broadcast_row_obeys_the_resend_rules(tmp_path: Path) -> None:
    async with running(make_config(tmp_path)) as app:
        bid = await finished_with_unknowns(app)
        ids = [r["id"] for r in await db.outbox_rows(app.core.db, "id", broadcast_id=bid)]
        retry = "/api/v1/sms/retry"
        # The registrar is staff, neither the requester nor an approver.
        for row in ids[:3]:
            call = app.post(retry, API_TOKEN, {"id": row})
            await refused(app, call, status=403, says="only the requester or an approver")
        call = app.post(retry, ADMIN_TOKEN, {"id": ids[2]})  # failed: not a resend
        await refused(app, call, status=404, says="only unknown messages")
        assert await app.cli("broadcasts", "resend", str(bid), "--as", "registrar") == 1
        status, body = await app.post(retry, DEAN_TOKEN, {"id": ids[0]})
        assert status == 202 and body["state"] == "queued", body
        await wait_state(app.core, bid, "done")
        states = await db.outbox_rows(app.core.db, "state", broadcast_id=bid)
        assert [r["state"] for r in states] == ["sent", "unknown", "failed", "sent"]


async def test_resend_of_a_cancelled_broadcast_changes_nothing(tmp_path: Path) -> None:
    async with running(make_config(tmp_path)) as app:
        bid = await finished_with_unknowns(app)
        async with app.core.db.transaction() as tx:  # cancelled after the crash
            await tx.execute("UPDATE broadcasts SET state = 'cancelled' WHERE id = ?", (bid,))
        before = await app.snapshot()
        assert await app.cli("broadcasts", "resend", str(bid), "--as", "dean") == 1
        ids = [r["id"] for r in await db.outbox_rows(app.core.db, "id", broadcast_id=bid)]
        call = app.post("/api/v1/sms/retry", DEAN_TOKEN, {"id": ids[0]})
        await refused(app, call, status=422, says="is cancelled; nothing can be resent")
        assert await app.snapshot() == before


async def test_pause_and_resume_need_the_requester_or_an_approver(tmp_path: Path) -> None:
    async with running(make_config(tmp_path)) as app:
        b = await compose(app, API_TOKEN, send_at="2099-01-01T07:00")
        status, _ = await app.post(f"/api/v1/broadcasts/{b['id']}/approve", DEAN_TOKEN)
        assert status == 200
        bid, cli = str(b["id"]), app.cli
        dean = await compose(app, DEAN_TOKEN, send_at="2099-01-01T07:00")
        await app.post(f"/api/v1/broadcasts/{dean['id']}/approve", ADMIN_TOKEN)
        before = await app.snapshot()
        # The registrar did not request the dean's broadcast and is no approver.
        assert await cli("broadcasts", "pause", str(dean["id"]), "--as", "registrar") == 1
        assert await cli("broadcasts", "resume", bid, "--as", "registrar") == 1  # not paused
        assert await app.snapshot() == before
        assert await cli("broadcasts", "pause", bid, "--as", "registrar") == 0
        view = await app.core.broadcasts.view(b["id"])
        assert view.state == "paused" and view.paused_reason == "by staff"
        before = await app.snapshot()
        assert await cli("broadcasts", "pause", bid, "--as", "dean") == 1  # already paused
        assert await cli("broadcasts", "resume", str(dean["id"]), "--as", "registrar") == 1
        assert await app.snapshot() == before
        assert await cli("broadcasts", "resume", bid, "--as", "bursar") == 0
        view = await app.core.broadcasts.view(b["id"])
        assert view.state == "sending" and view.paused_reason is None


async def test_a_refused_pause_writes_no_reason(tmp_path: Path) -> None:
    async with running(make_config(tmp_path)) as app:
        b = await compose(app, API_TOKEN)
        before = await app.snapshot()
        moved = await app.core.broadcasts.set_paused(
            b["id"], paused=True, actor="system", reason="low balance"
        )
        assert not moved and await app.snapshot() == before


def capped_config(tmp_path: Path, limit: int) -> Config:
    """The test config with [dispatch] direct_daily_limit set."""
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[dispatch]\n", f"[dispatch]\ndirect_daily_limit = {limit}\n"))
    return load_config(path)


async def test_one_to_one_sends_have_a_daily_cap_per_person(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    assert make_config(tmp_path / "default").dispatch.direct_daily_limit == 500
    async with running(capped_config(tmp_path, 2)) as app:
        send = "/api/v1/sms/send"
        ids = []
        for n in range(2):
            status, body = await app.post(send, API_TOKEN, {"to": "0712345001", "message": f"{n}"})
            assert status == 202
            ids.append(body["id"])
        async with asyncio.timeout(10):  # both sent and reported, so nothing moves meanwhile
            while any(
                m["delivery_status"] != "delivered" for m in await app.core.messaging.statuses(ids)
            ):
                await asyncio.sleep(0.02)
        call = app.post(send, API_TOKEN, {"to": "0712345002", "message": "third"})
        says = "the limit is 2 a day ([dispatch] direct_daily_limit)"
        await refused(app, call, status=422, says=says)
        status, _ = await app.post(send, DEAN_TOKEN, {"to": "0712345002", "message": "mine"})
        assert status == 202  # the cap is per person


async def test_chat_resend_obeys_the_same_rules(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as fronts:
        core, people = fronts.core, fronts.core.config.people
        view = await core.broadcasts.compose(
            audience="club:ict", message="Exam at 9", requester=people["dean"]
        )
        await core.broadcasts.approve(view.id, person=people["ict-admin"])  # a draft: confirmed
        await wait_state(core, view.id, "done")
        async with asyncio.timeout(10):
            while (await core.broadcasts.view(view.id)).counts.delivered < 2:
                await asyncio.sleep(0.02)
        await db.update_outbox(core.db, {"state": "unknown"}, broadcast_id=view.id)
        before = await db.snapshot(core.db)
        status, body = await fronts.console(STAFF.id, f"resend {view.id}")
        assert status == 200 and not body["ok"], body
        assert "only the requester or an approver can resend" in body["text"]
        answer = await fronts.slack.answer(
            await fronts.slack.slash(f"resend {view.id}", user=STAFF.slack)
        )
        assert "only the requester or an approver can resend" in answer["text"]
        after = await db.snapshot(core.db)
        assert changed_tables(before, after) == ["audit_log"]
        added = [r for r in after["audit_log"] if r not in before["audit_log"]]
        assert len(added) == 2 and all('"ok": false' in r[-1] for r in added), added
        status, body = await fronts.console(APPROVER.id, f"resend {view.id}")
        assert body["ok"] and "2 unknown message(s) queued again" in body["text"], body
