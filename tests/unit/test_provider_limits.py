"""Per-destination limits (issue 12, 2): a burst reaches one clinic a few deliveries at a
time, and the SMTP relay a few emails at a time, whatever the notifier has in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

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


async def test_emails_reach_the_relay_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    peak = Peak()

    async def slow_relay(*_args: object, **_kwargs: object) -> None:
        await peak.during(0.02)

    monkeypatch.setattr("aiosmtplib.send", slow_relay)
    provider = SmtpProvider("relay.invalid", 25, "from@example.nhs.uk", connections=2)
    message = Message("referrer", "email", "gp@example.nhs.uk", "Subject", "Body")
    await asyncio.gather(*(provider.send(message, f"r{n}") for n in range(10)))
    assert peak.most == 2
