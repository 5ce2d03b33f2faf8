"""Per-destination limits (issue 12, 2): a burst reaches one clinic a few deliveries at a
time, and the SMTP relay a few emails at a time, whatever the notifier has in flight."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from devstack.services import free_port
from notifier.adapters.smtp_provider import SmtpProvider
from notifier.adapters.webhook_provider import WebhookProvider
from notifier.domain.plan import Message


class Peak:
    def __init__(self) -> None:
        self.now = self.most = 0

    async def during(self, seconds: float) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.now -= 1


@pytest.fixture
async def clinic() -> AsyncIterator[tuple[str, Peak]]:
    peak = Peak()

    async def receive(_request: web.Request) -> web.Response:
        await peak.during(0.05)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/clinics/{site}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/clinics/{{site}}", peak
    await runner.cleanup()


async def test_a_burst_reaches_one_clinic_a_few_at_a_time(clinic: tuple[str, Peak]) -> None:
    url, peak = clinic
    provider = WebhookProvider(b"secret", {}, url, per_clinic=3)
    message = Message("clinic", "webhook", "pelvic-bsol", None, "")
    try:
        await asyncio.gather(*(provider.send(message, f"r{n}", {"n": n}) for n in range(20)))
    finally:
        await provider.close()
    assert peak.most == 3


class SlowRelay:
    """An aiosmtpd handler that takes its time over each message (it runs in the
    controller's own thread, hence the lock)."""

    def __init__(self) -> None:
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        with self.lock:
            self.now -= 1
        return "250 Message accepted"


async def test_emails_reach_the_relay_a_few_at_a_time() -> None:
    relay = SlowRelay()
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        provider = SmtpProvider("127.0.0.1", port, "from@example.nhs.uk", connections=2)
        message = Message("referrer", "email", "gp@example.nhs.uk", "Subject", "Body")
        await asyncio.gather(*(provider.send(message, f"r{n}") for n in range(10)))
    finally:
        controller.stop()
    assert relay.most == 2
