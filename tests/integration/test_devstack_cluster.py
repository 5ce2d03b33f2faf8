"""The local stack's three-broker KRaft cluster (issue 12, 5): topics with three replicas and
two in sync, and, as Kafka's own replication tests check, every acknowledged message consumed
after the leader of the partition in use is killed mid-stream."""

from __future__ import annotations

import asyncio
import random
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from devstack.config import StackSettings
from devstack.kafka import KafkaServer
from devstack.topics import ensure_topics, leader_of
from shared.kafka import build_broker
from shared.topics import Topic
from tests.support.waiting import arrives

TOPIC = Topic("replicated", partitions=3, description="a test topic")
MESSAGES = 600


def free_port_run(count: int) -> int:
    """A base port with `count` free ports after it (node n uses base + 2n and base + 2n + 1).

    Drawn below the kernel's ephemeral range (32768 up, by default), which outgoing
    connections take ports from: a port found free there could be taken by a client before
    the broker binds it (seen once in CI: "Address already in use")."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - count, 2)
        if all(_bindable(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    """One cluster for the module: three JVMs take a while to start on two cores."""
    base = free_port_run(6)
    settings = StackSettings(
        home=tmp_path_factory.mktemp("cluster"),
        kafka_brokers=3,
        kafka_port=base,
        kafka_controller_port=base + 1,
        kafka_heap="384m",
    )
    server = KafkaServer(settings)
    server.libs = KafkaServer(StackSettings()).libs  # the jars the stack already fetched
    try:
        assert server.start()
        yield server
    finally:
        server.stop()


async def test_topics_have_three_replicas_and_need_two_in_sync(cluster: KafkaServer) -> None:
    bootstrap = cluster.address
    assert bootstrap.count(",") == 2
    await ensure_topics(bootstrap, (TOPIC,))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:

        async def described() -> list[dict[str, Any]]:  # once its metadata reached a broker
            (topic,) = await admin.describe_topics([TOPIC.name])
            partitions: list[dict[str, Any]] = topic["partitions"]
            return partitions

        partitions = await arrives(described)
        assert [len(p["replicas"]) for p in partitions] == [3, 3, 3]
        (configs,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, TOPIC.name, {"min.insync.replicas": None})]
        )
        entries = {e[0]: e[1] for e in configs.resources[0][4]}
        assert entries["min.insync.replicas"] == "2"
    finally:
        await admin.close()


async def test_every_acknowledged_message_survives_the_leader_being_killed(
    cluster: KafkaServer,
) -> None:
    bootstrap = cluster.address
    await ensure_topics(bootstrap, (TOPIC,))
    victim = await leader_of(bootstrap, TOPIC.name, 0)
    acknowledged: list[str] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=30_000
    )
    await producer.start()
    try:
        for i in range(MESSAGES):
            if i == MESSAGES // 3:
                await asyncio.to_thread(cluster.kill, victim)
            value = f"m{i}"
            try:
                await producer.send_and_wait(TOPIC.name, value.encode(), partition=i % 3)
            except KafkaError:
                continue  # not acknowledged: not promised
            acknowledged.append(value)
    finally:
        await producer.stop()
    assert len(acknowledged) > MESSAGES * 0.9
    assert await leader_of(bootstrap, TOPIC.name, 0) != victim

    consumer = AIOKafkaConsumer(
        TOPIC.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    consumed: Counter[str] = Counter()
    try:
        async with asyncio.timeout(60):
            while not set(acknowledged) <= consumed.keys():
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    consumed.update(r.value.decode() for r in records if r.value)
    finally:
        await consumer.stop()
    assert [v for v in acknowledged if consumed[v] != 1] == []

    assert await asyncio.to_thread(cluster.start)  # the killed node comes back and rejoins
    assert cluster.running_pid() is not None


async def test_a_service_broker_reaches_the_cluster_through_its_bootstrap_list(
    cluster: KafkaServer,
) -> None:
    """KAFKA_BOOTSTRAP_SERVERS names all three brokers, comma-separated, as production does."""
    bootstrap = cluster.address
    await ensure_topics(bootstrap, (TOPIC,))
    broker = build_broker(bootstrap, client_id="cluster-test")
    got: asyncio.Future[str] = asyncio.Future()
    sent = f"hello {random.random()}"

    @broker.subscriber(TOPIC.name, group_id=f"g{random.random()}", auto_offset_reset="earliest")
    async def handle(body: str) -> None:
        if body == sent and not got.done():
            got.set_result(body)

    async with broker:
        await broker.start()
        await broker.publish(sent, TOPIC.name)
        assert await asyncio.wait_for(got, 60) == sent
