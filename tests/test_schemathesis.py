"""Schemathesis against the running app: every /api/v1 operation, per its own OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from bot.config.types import Config
from bot.server import CORE, build_app
from handlers.routes import add_routes
from tests.support.base import API_TOKEN, make_config, seed_contacts

logger = logging.getLogger(__name__)

#: Schema-valid data may still be refused on meaning (a 422: no such phone number, club, time);
#: never with a 400, 413 or 415, which would mean the document and the API disagree.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", 401, 403, 404, 409, 422],
            }
        }
    }
)
#: Examples per operation and mode; SCHEMATHESIS_EXAMPLES=300 for a longer run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))


class LiveApp:
    """The real app on 127.0.0.1 in a thread of its own, for synchronous HTTP clients."""

    def __init__(self, config: Config, folder: Path):
        self.config = config
        self.folder = folder
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-app", daemon=True)

    def __enter__(self) -> LiveApp:
        self._thread.start()
        if not self._ready.wait(15) or self._failed is not None:
            raise RuntimeError(f"the app did not start: {self._failed!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the waiting test, not lost in the thread
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(build_app(self.config, mount=add_routes))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            core = runner.app[CORE]
            await seed_contacts(core, self.folder)
            registrar = self.config.people["registrar"]
            await core.broadcasts.compose(audience="all", message="Hi", requester=registrar)
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def get_json(self, path: str) -> Any:
        """GET a path and decode its JSON."""
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    folder = tmp_path_factory.mktemp("schemathesis")
    with LiveApp(make_config(folder), folder) as app:
        yield app


@pytest.fixture(scope="module")
def api_schema(live: LiveApp) -> OpenApiSchema:
    """The document the app serves, not a copy: what clients would read."""
    return schemathesis.openapi.from_dict(live.get_json("/api/v1/openapi.json"), config=CONFIG)


def test_the_document_covers_every_api_route(live: LiveApp) -> None:
    doc = live.get_json("/api/v1/openapi.json")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    app = build_app(live.config, mount=add_routes)
    served = {
        (r.method, res.canonical)
        for res in app.router.resources()
        for r in res
        if res.canonical.startswith("/api/v1/") and r.method != "HEAD"
    }
    assert documented == served - {("GET", "/api/v1/openapi.json")}


AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_matches_its_openapi_document(
    api_schema: OpenApiSchema, live: LiveApp, mode: GenerationMode
) -> None:
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself is sound
        operations.append(result.ok())
    assert len(operations) == 7
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case: Case[Any]) -> None:
            response = case.call(base_url=live.url, headers=AUTH, timeout=10)
            case.validate_response(response, headers=AUTH)

        conforms()
