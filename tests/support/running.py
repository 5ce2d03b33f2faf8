"""Intake in this process, on the real servers, in a namespace of its own (topic prefix,
schema, consumer group), reached over ASGI with httpx."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from devstack.topics import ensure_topics
from intake import service_layer
from intake.adapters import api_keys
from intake.adapters.referral_store import PostgresReferrals
from intake.main import create_service
from intake.settings import IntakeSettings
from shared.contracts import Destination, Outcome, ReferralDecided, RoutingDecision
from shared.directory import load_directory
from shared.service import Service
from tests.support.kafka_reader import Record, read_all, wait_for
from tests.support.servers import Servers


@dataclass
class RunningIntake:
    servers: Servers
    settings: IntakeSettings
    service: Service
    client: httpx.AsyncClient

    @property
    def prefix(self) -> str:
        return self.settings.kafka_topic_prefix

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def new_key(self, organisation: str = "M85001", scope: str = "referrer") -> str:
        async with self.service.database.pool.acquire() as conn:
            _key_id, secret = await api_keys.create(conn, organisation, scope)  # type: ignore[arg-type]
        return secret

    async def revoke_all(self) -> None:
        async with self.service.database.pool.acquire() as conn:
            await conn.execute("UPDATE api_keys SET revoked_at = now()")

    async def count(self, table: str) -> int:
        async with self.service.database.pool.acquire() as conn:
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))

    async def events(self, name: str) -> list[Record]:
        return await read_all(self.servers.kafka_bootstrap, self.topic(name))

    async def route(self, referral_id: str, site: str | None, *, urgent: bool = False) -> None:
        """As the router's decision does, through intake's own use case (no router here);
        no site: the rules could not decide (needs triage)."""
        event = await self.decision(referral_id, site, urgent=urgent)
        changed = await service_layer.record_decisions(
            lambda: PostgresReferrals(self.service.database.pool), [event], load_directory()
        )
        assert changed == {uuid.UUID(referral_id)}

    async def decision(
        self, referral_id: str, site: str | None, *, urgent: bool = False
    ) -> ReferralDecided:
        """The router's decision on a stored referral, not yet recorded; no site: the rules
        could not decide (needs triage)."""
        row = await self.service.database.pool.fetchrow(
            "SELECT tracking_reference, service, correlation_id, received_event_id"
            " FROM referrals WHERE referral_id = $1",
            uuid.UUID(referral_id),
        )
        decision = RoutingDecision(
            outcome=Outcome.ROUTED if site else Outcome.NEEDS_TRIAGE,
            service=row["service"],
            destination=Destination(id=site, name=site) if site else None,
            reasons=(),
            urgent=urgent,
            rules_version="sha256:test",
        )
        return ReferralDecided.announce(
            decision,
            referral_id=uuid.UUID(referral_id),
            tracking_reference=row["tracking_reference"],
            received_event_id=row["received_event_id"],
            correlation_id=row["correlation_id"],
        )

    async def received_event_id(self, referral_id: str) -> uuid.UUID:
        """The ReferralReceived intake published for a referral: the event a decision answers."""
        (record,) = await self.wait_events("referrals.received", referral_id)
        return uuid.UUID(json.loads(record.value or b"")["event_id"])

    async def wait_events(self, name: str, key: str, **options: Any) -> list[Record]:
        return await wait_for(
            self.servers.kafka_bootstrap,
            self.topic(name),
            lambda r: r.key == key.encode(),
            **options,
        )


def intake_settings(
    servers: Servers, schema: str, prefix: str, private_key: str, **overrides: Any
) -> IntakeSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": servers.kafka_bootstrap,
        "database_url": servers.database_url,
        "kafka_topic_prefix": prefix,
        "db_schema": schema,
        "private_key": SecretStr(private_key),
        "consumer_group": f"intake-{uuid.uuid4().hex[:8]}",
        **overrides,
    }
    return IntakeSettings.model_validate(values)


@asynccontextmanager
async def running_intake(
    settings: IntakeSettings, servers: Servers
) -> AsyncIterator[RunningIntake]:
    async with running(create_service(settings), servers) as (service, client):
        yield RunningIntake(servers, settings, service, client)


@asynccontextmanager
async def running(
    service: Service, servers: Servers
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    """Any service, started in this process with its consumers assigned, and an HTTP client."""
    await ensure_topics(servers.kafka_bootstrap, prefix=service.settings.kafka_topic_prefix)
    app = service.app
    async with app.router.lifespan_context(app):
        await _wait_assigned(service)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        # 127.0.0.1, as the identity provider accepts redirects back to it (staff sign-in).
        base = "http://127.0.0.1:8000"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            yield service, client


async def _wait_assigned(service: Service, within: float = 30) -> None:
    """Until every subscriber has its partitions, so no test races the group join."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    for subscriber in service.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        while consumer is not None and not consumer.assignment():
            if loop.time() > deadline:
                raise TimeoutError("intake's consumers got no partitions")
            await asyncio.sleep(0.1)
