"""The router service on the real Kafka and PostgreSQL, in its own namespace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from devstack.samples import received_event as received
from router import service_layer
from router.adapters.decision_store import PostgresDecisions
from router.domain.triage import TriageError
from router.main import create_service
from router.settings import RouterSettings
from shared.contracts import DeadLetter, ReferralCancelled, ReferralReceived, ReferralReturned
from shared.directory import load_directory
from shared.kafka import build_broker, publish_event
from shared.service import Service
from tests.support.kafka_reader import body, read_all, wait_for
from tests.support.running import running
from tests.support.servers import Servers

RECEIVED, DLQ = "referrals.received", "referrals.received.dlq"


def router_settings(
    servers: Servers, db_schema: str, topic_prefix: str, **overrides: Any
) -> RouterSettings:
    return RouterSettings.model_validate(
        {
            "kafka_bootstrap_servers": servers.kafka_bootstrap,
            "database_url": servers.database_url,
            "kafka_topic_prefix": topic_prefix,
            "db_schema": db_schema,
            "consumer_group": f"router-{uuid.uuid4().hex[:8]}",
            **overrides,
        }
    )


@pytest.fixture
async def router(servers: Servers, db_schema: str, topic_prefix: str) -> AsyncIterator[Service]:
    settings = router_settings(servers, db_schema, topic_prefix)
    async with running(create_service(settings), servers) as (service, _client):
        yield service


async def publish(servers: Servers, prefix: str, event: ReferralReceived | bytes) -> None:
    async with build_broker(servers.kafka_bootstrap, "test-intake") as broker:
        if isinstance(event, bytes):
            await broker.publish(event, topic=prefix + RECEIVED, key=b"poison")
        else:
            await publish_event(broker, event, key=str(event.referral_id), topic=prefix + RECEIVED)


async def decisions(service: Service) -> list[dict[str, Any]]:
    async with service.database.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM decisions ORDER BY decided_at")]


def prefix_of(service: Service) -> str:
    return service.settings.kafka_topic_prefix


async def test_a_redelivered_referral_is_decided_once(router: Service, servers: Servers) -> None:
    event = received()
    await publish(servers, prefix_of(router), event)
    await publish(servers, prefix_of(router), event)  # the same event again

    routed = await wait_for(
        servers.kafka_bootstrap,
        prefix_of(router) + "referrals.routed",
        lambda r: r.key == str(event.referral_id).encode(),
        settle=1.5,
    )
    # One decision. The outbox may publish a decision again after a failed send (the same
    # event id, which consumers dedupe on), so the invariant is one distinct event.
    assert len({body(r)["event_id"] for r in routed}) == 1
    decision = body(routed[0])
    assert decision["destination"]["id"] == "pelvic-bsol"
    assert decision["received_event_id"] == str(event.event_id)
    assert decision["correlation_id"] == event.correlation_id
    recorded = await decisions(router)
    assert len(recorded) == 1
    assert recorded[0]["rules_version"] == load_directory().rules_version
    assert {r["rule"] for r in recorded[0]["reasons"]} >= {"pelvic-health.area-has-clinic"}


async def test_each_outcome_goes_to_its_topic(router: Service, servers: Servers) -> None:
    rejected = received(service="thrive", referrer_role="self", referrer_organisation_code=None)
    triage = received(postcode_district="ZZ1")
    for event in (rejected, triage):
        await publish(servers, prefix_of(router), event)
    (r,) = await wait_for(
        servers.kafka_bootstrap, prefix_of(router) + "referrals.rejected", lambda _r: True
    )
    assert body(r)["reasons"][0]["rule"] == "thrive.referrer-is-professional"
    assert body(r)["signposting"]
    (t,) = await wait_for(
        servers.kafka_bootstrap, prefix_of(router) + "referrals.triage", lambda _r: True
    )
    assert body(t)["referral_id"] == str(triage.referral_id)


async def test_a_person_resolves_triage_and_it_is_published(
    router: Service, servers: Servers
) -> None:
    event = received(postcode_district="ZZ1")
    await publish(servers, prefix_of(router), event)
    await wait_for(servers.kafka_bootstrap, prefix_of(router) + "referrals.triage", lambda _r: True)
    directory = load_directory()

    with pytest.raises(TriageError, match="not a site of pelvic-health"):
        await service_layer.resolve_triage(
            lambda: PostgresDecisions(router.database.pool),
            event.referral_id,
            directory,
            route_to="hub-dgs",
            decided_by="Sam Jones",
            reason="Checked the address.",
        )
    resolved = await service_layer.resolve_triage(
        lambda: PostgresDecisions(router.database.pool),
        event.referral_id,
        directory,
        route_to="pelvic-bsol",
        decided_by="Sam Jones",
        reason="New estate in Birmingham.",
    )
    assert resolved.decided_by == "Sam Jones"
    (routed,) = await wait_for(
        servers.kafka_bootstrap, prefix_of(router) + "referrals.routed", lambda _r: True
    )
    assert body(routed)["decided_by"] == "Sam Jones"
    assert body(routed)["reasons"] == [
        {"rule": "triage.decided-by-person", "message": "New estate in Birmingham."}
    ]
    with pytest.raises(TriageError, match="not awaiting triage"):
        await service_layer.resolve_triage(
            lambda: PostgresDecisions(router.database.pool),
            event.referral_id,
            directory,
            route_to=None,
            decided_by="Sam Jones",
            reason="Twice.",
        )


async def test_a_poison_event_is_dead_lettered_and_the_partition_moves_on(
    router: Service, servers: Servers
) -> None:
    await publish(servers, prefix_of(router), b'{"referral_id": "not-a-uuid"}')
    good = received()
    await publish(servers, prefix_of(router), good)

    (letter,) = await wait_for(servers.kafka_bootstrap, prefix_of(router) + DLQ, lambda _r: True)
    dead = DeadLetter.model_validate(body(letter))
    assert dead.reason.startswith("not a ReferralReceived event")
    assert "referral_id" in dead.reason
    assert dead.source_topic == prefix_of(router) + RECEIVED
    routed = await wait_for(
        servers.kafka_bootstrap, prefix_of(router) + "referrals.routed", lambda _r: True
    )
    assert [body(r)["referral_id"] for r in routed] == [str(good.referral_id)]
    assert len(await read_all(servers.kafka_bootstrap, prefix_of(router) + DLQ)) == 1


async def test_an_event_repeated_within_one_batch_is_decided_once(router: Service) -> None:
    event = received()
    directory = load_directory()
    decided = await service_layer.decide_batch(
        lambda: PostgresDecisions(router.database.pool),
        [event, event],
        directory,
        as_of=date(2026, 11, 23),
        topic="t",
    )
    again = await service_layer.decide_batch(
        lambda: PostgresDecisions(router.database.pool),
        [event],
        directory,
        as_of=date(2026, 11, 23),
        topic="t",
    )
    assert (len(decided), again) == (1, [])
    assert len(await decisions(router)) == 1


async def test_a_return_to_triage_and_a_cancellation_reach_the_triage_list(
    router: Service, servers: Servers
) -> None:
    event = received()
    await publish(servers, prefix_of(router), event)
    await wait_for(servers.kafka_bootstrap, prefix_of(router) + "referrals.routed", lambda _r: True)
    pool = router.database.pool

    async def pending() -> list[uuid.UUID]:
        found = await service_layer.pending_triage(lambda: PostgresDecisions(pool))
        return [p.referral_id for p in found]

    common: dict[str, Any] = {
        "correlation_id": event.correlation_id,
        "referral_id": event.referral_id,
        "tracking_reference": event.tracking_reference,
        "service": event.service,
        "site": "pelvic-bsol",
    }
    returned = ReferralReturned(
        **common, before="routed", after="needs-triage", by="clinic", to="triage",
        reason_code="wrong-site", reason="Not our area.",
    )  # fmt: skip
    cancelled = ReferralCancelled(
        **common, before="needs-triage", after="cancelled", by="referrer",
        reason_code="sent-in-error", reason="Sent in error.",
    )  # fmt: skip
    lifecycle = prefix_of(router) + "referrals.lifecycle"
    async with build_broker(servers.kafka_bootstrap, "test-intake") as broker:
        await publish_event(broker, returned, key=str(event.referral_id), topic=lifecycle)
        await until(lambda: pending(), lambda ids: ids == [event.referral_id])
        await publish_event(broker, cancelled, key=str(event.referral_id), topic=lifecycle)
        await until(lambda: pending(), lambda ids: ids == [])


async def until(read: Any, done: Any, within: float = 30) -> None:
    """Poll `read()` until `done(value)`; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not done(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.1)


async def test_an_amendment_in_the_batch_of_its_original_keeps_the_amended_facts(
    router: Service,
) -> None:
    original = received()
    amended = received(referral_id=original.referral_id, postcode_district="M1")
    decided = await service_layer.decide_batch(
        lambda: PostgresDecisions(router.database.pool),
        [original, amended],
        load_directory(),
        as_of=date.today(),
        topic="t",
    )
    assert len(decided) == 2
    kept = await router.database.pool.fetchval(
        "SELECT received->>'postcode_district' FROM referrals WHERE referral_id = $1",
        original.referral_id,
    )
    assert kept == "M1"
