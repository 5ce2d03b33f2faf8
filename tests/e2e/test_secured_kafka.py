"""Against a broker locked down as the chart's is (`devstack secured-kafka`: TLS, one SCRAM
user per service, ACLs derived from the code, nothing allowed that no ACL allows): the three
services, each as its own Kafka user, carry a referral from the POST to her message; a
service that reaches for another's topic or consumer group is refused, and so is a client
with a wrong password or without TLS."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from devstack.samples import gp_referral
from devstack.secured_kafka import SecuredKafka
from devstack.system import running_system
from shared.contracts import DeadLetter
from shared.dead_letters import KafkaDeadLetters, ReplayRefused
from standins.client import Standins
from tests.support.waiting import eventually

SERVICES = ("intake", "router", "notifier")


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredKafka]:
    kafka = SecuredKafka()
    kafka.start()  # afresh: its users, topics and ACLs; it fails with its log if it cannot
    try:
        yield kafka
    finally:
        kafka.stop()


def mentioning(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [r for r in records if reference in str(r)]


def test_each_service_works_through_the_secured_broker_as_its_own_user(
    secured: SecuredKafka, standins: Standins
) -> None:
    own = {s: {**secured.env(s), f"{s.upper()}_CONSUMER_GROUP": s} for s in SERVICES}
    own["intake"] |= {
        "INTAKE_REPLAY_KAFKA_USERNAME": "operations",
        "INTAKE_REPLAY_KAFKA_PASSWORD": secured.users()["operations"],
    }
    standins.reset()
    with running_system("", standins, own=own) as system:
        answer = httpx.post(
            f"{system.intake.url}/v1/referrals",
            json=gp_referral(),
            headers={"Authorization": f"Bearer {system.referrer_key}"},
        )
        assert answer.status_code == 202, answer.text
        reference = answer.json()["tracking_reference"]
        sms = eventually(lambda: mentioning(standins.records("notify"), reference))
        hook = eventually(lambda: mentioning(standins.records("webhook"), reference))
        status_url = f"{system.intake.url}{answer.json()['status_url']}"
        headers = {"Authorization": f"Bearer {system.referrer_key}"}
        eventually(lambda: httpx.get(status_url, headers=headers).json()["status"] == "routed")
        logs = "".join(p.output() for p in system.processes)
    assert len(sms) == 1
    assert hook[0]["site"] == "pelvic-bsol"
    refused = [line for line in logs.splitlines() if "AuthorizationFailed" in line]
    assert refused == []  # no service needed more than its ACLs give


async def produce(secured: SecuredKafka, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=secured.address, acks="all", enable_idempotence=True,
        **secured.client_options(user),
    )  # fmt: skip
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}")
    finally:
        await producer.stop()


async def consume(secured: SecuredKafka, user: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=secured.address, group_id=group,
        auto_offset_reset="earliest", **secured.client_options(user),
    )  # fmt: skip
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


def test_a_service_reaching_for_another_services_topic_or_group_is_refused(
    secured: SecuredKafka,
) -> None:
    asyncio.run(produce(secured, "intake", "referrals.received"))  # its own: allowed
    with pytest.raises(TopicAuthorizationFailedError):  # the router announces, never receives
        asyncio.run(produce(secured, "router", "referrals.received"))
    with pytest.raises(TopicAuthorizationFailedError):  # the notifier reads decisions only
        asyncio.run(consume(secured, "notifier", "referrals.received", "notifier"))
    with pytest.raises(GroupAuthorizationFailedError):  # nor joins another's group
        asyncio.run(consume(secured, "intake", "referrals.routed", "router"))


def test_a_wrong_password_or_no_tls_gets_nowhere(secured: SecuredKafka) -> None:
    wrong = secured.client_options("router") | {"sasl_plain_password": "not-its-password"}

    async def with_wrong_password() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=secured.address, **wrong)
        try:
            await producer.start()
        finally:
            await producer.stop()

    async def in_plaintext() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=secured.address, request_timeout_ms=5000)
        try:
            await producer.start()
        finally:
            await producer.stop()

    with pytest.raises(KafkaError):
        asyncio.run(with_wrong_password())
    with pytest.raises(KafkaConnectionError):
        asyncio.run(in_plaintext())


def test_dead_letters_are_read_and_replayed_as_operations_and_not_as_intake(
    secured: SecuredKafka,
) -> None:
    """The operations page's own user (intake's INTAKE_REPLAY_KAFKA_*) reads the dead letters
    and writes one back to the topic it came from; intake's own user may do neither."""
    original = b'{"event_id": "' + str(uuid.uuid4()).encode() + b'"}'
    letter = DeadLetter(
        correlation_id=str(uuid.uuid4()), source_topic="referrals.received",
        source_partition=0, source_offset=0, reason="a test's letter",
        original_base64=base64.b64encode(original).decode(),
    )  # fmt: skip

    async def left_by_the_router() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=secured.address, **secured.client_options("router")
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                "referrals.received.dlq", letter.model_dump_json().encode()
            )
        finally:
            await producer.stop()

    asyncio.run(left_by_the_router())
    operations = KafkaDeadLetters(secured.address, "", secured.client_options("operations"))
    assert letter.event_id in [d.event_id for _topic, d in asyncio.run(operations.kept())]
    assert asyncio.run(operations.replay(letter.event_id)).topic == "referrals.received"
    as_intake = KafkaDeadLetters(secured.address, "", secured.client_options("intake"))
    with pytest.raises(ReplayRefused, match="no dead letter"):  # it cannot even see it
        asyncio.run(as_intake.replay(letter.event_id))
