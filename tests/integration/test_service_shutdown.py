"""A service's shutdown is bounded: a background worker that will not stop is passed over after
its grace, so neither an orchestrator's rollout nor a test waits on it for ever."""

from __future__ import annotations

import asyncio
import time

import pytest

from router.main import MIGRATIONS
from shared import service as service_module
from shared.database import Database
from shared.service import Service, build_service
from tests.integration.router.test_router_service import router_settings
from tests.support.running import running
from tests.support.servers import Servers


async def test_a_worker_that_ignores_cancellation_does_not_hold_shutdown(
    servers: Servers, db_schema: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "WORKERS_GRACE_SECONDS", 0.5)
    started, let_go = asyncio.Event(), asyncio.Event()
    worker: list[asyncio.Task[object]] = []

    async def stubborn(_service: Service) -> None:
        task = asyncio.current_task()
        assert task is not None
        worker.append(task)
        started.set()
        while not let_go.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # the kind of worker a bug makes: it ignores cancellation

    settings = router_settings(servers, db_schema, topic_prefix)
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    service = build_service("router", settings, database, workers=(stubborn,))
    began = 0.0
    async with running(service, servers):
        await asyncio.wait_for(started.wait(), 10)
        began = time.monotonic()
    assert time.monotonic() - began < 10  # the grace (0.5 s) and the broker's stop, not for ever
    assert not worker[0].done()  # it is still there: shutdown went on without it
    let_go.set()
    worker[0].cancel()
    await asyncio.wait(worker, timeout=5)
    assert worker[0].done()
