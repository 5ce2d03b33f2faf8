"""The real broker with the project's broker factory and contracts."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaMessage

from devstack.samples import received_event
from shared.consumer import SUBSCRIBER_DEFAULTS
from shared.contracts import ReferralReceived
from shared.kafka import build_broker, publish_event
from tests.support.servers import Servers


async def test_faststream_round_trip_with_shared_contract(
    servers: Servers, topic_name: str, group_id: str
) -> None:
    broker = build_broker(servers.kafka_bootstrap, client_id="smoke")
    got: asyncio.Future[tuple[ReferralReceived, KafkaMessage]] = asyncio.Future()

    @broker.subscriber(topic_name, group_id=group_id, **SUBSCRIBER_DEFAULTS)
    async def handle(event: ReferralReceived, message: KafkaMessage) -> None:
        got.set_result((event, message))

    sent = received_event()
    async with broker:
        await broker.start()
        await publish_event(broker.publisher(topic_name), sent, key=str(sent.referral_id))
        event, message = await asyncio.wait_for(got, timeout=30)

    assert event == sent
    assert message.correlation_id == sent.correlation_id
    assert message.raw_message.key == str(sent.referral_id).encode()
    assert message.headers["event-type"] == "ReferralReceived"


async def test_offset_is_committed_only_after_the_handler_succeeds(
    servers: Servers, topic_name: str, group_id: str
) -> None:
    """A handler that fails sees the message again; nothing is lost to an early commit."""
    broker = build_broker(servers.kafka_bootstrap, client_id="smoke")
    deliveries: list[str] = []
    done = asyncio.Event()

    @broker.subscriber(topic_name, group_id=group_id, **SUBSCRIBER_DEFAULTS)
    async def flaky(body: dict[str, Any]) -> None:
        deliveries.append(body["n"])
        if len(deliveries) == 1:
            raise RuntimeError("transient failure")
        done.set()

    async with broker:
        await broker.start()
        await broker.publish({"n": "one"}, topic_name)
        await asyncio.wait_for(done.wait(), timeout=30)
        await asyncio.sleep(0.5)  # the commit follows the handler's return

    assert deliveries == ["one", "one"]
    committed = await _committed_offset(servers.kafka_bootstrap, topic_name, group_id)
    assert committed == 1


async def _committed_offset(bootstrap: str, topic: str, group_id: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def test_idempotent_producer_send_with_acks_all(servers: Servers, topic_name: str) -> None:
    broker = build_broker(servers.kafka_bootstrap, client_id="smoke")
    async with broker:
        await broker.connect()
        producer = broker.config.producer._producer.producer
        for n in range(3):
            await broker.publish({"n": n}, topic_name, key=b"same-key")
        # The broker gave this producer an id: its batches carry sequence numbers and the
        # broker drops a retried duplicate. acks=all is sent as -1.
        # aiokafka exposes neither through public API, hence the private attributes.
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
        assert producer._sender._acks == -1

    consumer = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=servers.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records = await consumer.getmany(timeout_ms=10_000)
        values = [r.value for batch in records.values() for r in batch]
    finally:
        await consumer.stop()
    assert values == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
