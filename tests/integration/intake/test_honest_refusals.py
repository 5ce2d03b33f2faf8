"""While PostgreSQL is away, intake answers 503 with Retry-After (a kind page on the form),
readiness fails, and nothing is half-stored; when it is back, intake takes referrals again
(issue 12, 3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from devstack.samples import gp_referral
from intake.adapters import api_keys
from intake.main import create_service
from tests.integration.intake.test_self_referral_form import FORM, filled, token
from tests.support.bars import fresh
from tests.support.keys import INTAKE_PRIVATE_KEY
from tests.support.running import RunningIntake, intake_settings, running
from tests.support.servers import Servers
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
async def behind_proxy(
    servers: Servers, db_schema: str, topic_prefix: str
) -> AsyncIterator[tuple[RunningIntake, TcpProxy]]:
    real = urlsplit(servers.database_url)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 5432)
    await proxy.start()
    dsn = servers.database_url.replace(f":{real.port}/", f":{proxy.port}/")
    settings = intake_settings(servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY)
    settings = settings.model_copy(update={"database_url": dsn})
    async with running(create_service(settings), servers) as (service, _client):
        # Answers as a server would send them (not the app's exception raised into the test).
        transport = httpx.ASGITransport(
            app=service.app, client=("203.0.113.9", 50000), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield RunningIntake(servers, settings, service, client), proxy
    if proxy.port and proxy._server is not None:
        await proxy.cut()


async def test_while_postgres_is_away_intake_says_503_and_stores_nothing_half(
    behind_proxy: tuple[RunningIntake, TcpProxy],
) -> None:
    intake, proxy = behind_proxy
    async with intake.service.database.pool.acquire() as conn:
        _key_id, key = await api_keys.create(conn, "M85001", "referrer")
    headers = {"Authorization": f"Bearer {key}"}
    first = await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)
    assert first.status_code == 202
    csrf = await token(intake)

    await proxy.cut()
    refused = await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    message = await intake.client.post(
        "/FHIR/R4/$process-message",
        json=fresh("menopause"),
        headers={
            **headers,
            "Content-Type": "application/fhir+json",
            "X-Request-ID": "r-1",
            "X-Correlation-ID": "c-1",
        },
    )
    assert message.status_code == 503
    assert message.headers["content-type"] == "application/fhir+json"
    assert message.json()["issue"][0]["details"]["coding"][0]["code"] == "REC_SERVICE_UNAVAILABLE"
    assert int(message.headers["Retry-After"]) > 0
    page = await intake.client.post(FORM, data=filled(csrf))
    assert page.status_code == 503
    assert "Please try again in a few minutes" in page.text
    ready = await intake.client.get("/health/ready")
    assert (ready.status_code, ready.json()["postgres"]) == (503, "down")

    await proxy.start()
    deadline = time.monotonic() + 30
    while (
        again := await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)
    ).status_code != 202:
        assert again.status_code == 503, again.text
        assert time.monotonic() < deadline, "intake did not recover"
        await asyncio.sleep(0.5)
    assert await intake.count("referrals") == 2  # the refused one left nothing behind
    assert await intake.count("outbox") == 2


async def test_the_outbox_relay_recovers_after_postgres_comes_back(
    behind_proxy: tuple[RunningIntake, TcpProxy],
) -> None:
    """Found by the chaos suite: after a PostgreSQL crash the relay kept failing and its events
    were never published."""
    intake, proxy = behind_proxy
    async with intake.service.database.pool.acquire() as conn:
        _key_id, key = await api_keys.create(conn, "M85001", "referrer")
    headers = {"Authorization": f"Bearer {key}"}
    await proxy.cut()
    await asyncio.sleep(2)  # the relay meets the outage (its poll is 1 s)
    await proxy.start()
    deadline = time.monotonic() + 30
    while (
        answer := await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)
    ).status_code != 202:
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.5)
    referral_id = answer.json()["referral_id"]
    published = await intake.wait_events("referrals.received", referral_id, within=40)
    assert len(published) == 1
