"""Create the system's topics with the partitions declared in shared.topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devstack.config import replication_for
from shared.topics import ALL_TOPICS, Topic


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[Topic, ...] = ALL_TOPICS,
    prefix: str = "",
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create whichever topics are missing and wait until every partition has a leader;
    set every topic's configuration as `shared.topics` declares it (its retention, on one
    created before it was declared too); return the names created. Safe to run twice.

    On three brokers or more each topic has three replicas and needs two in sync to take a
    write (acks=all): one broker may die without losing an acknowledged event or stopping
    the pipeline. `prefix` gives a namespace of its own (KAFKA_TOPIC_PREFIX), as each test uses;
    `options`: aiokafka's, for a secured broker (`shared.kafka.client_options`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.qualified(prefix) not in existing]
        factor, min_insync = replication_for(len((await admin.describe_cluster())["brokers"]))
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        t.qualified(prefix),
                        num_partitions=t.partitions,
                        replication_factor=factor,
                        topic_configs=topic_configs(t, min_insync),
                    )
                    for t in missing
                ]
            )
            await _wait_for_leaders(admin, [t.qualified(prefix) for t in missing])
        kept = [t for t in topics if t not in missing]
        if kept:  # the whole set of a topic's own settings (alter_configs replaces them)
            responses = await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, t.qualified(prefix), topic_configs(t, min_insync)
                    )
                    for t in kept
                ]
            )
            refused = [r for answer in responses for r in answer.resources if r[0] != 0]
            if refused:
                raise RuntimeError(f"topic settings refused: {refused}")
        return [t.qualified(prefix) for t in missing]
    finally:
        await admin.close()


def topic_configs(topic: Topic, min_insync: int) -> dict[str, str]:
    """A topic's own settings on the broker: how many replicas must take a write, and how
    long its records are kept."""
    return {
        "min.insync.replicas": str(min_insync),
        "retention.ms": str(int(topic.retention.total_seconds() * 1000)),
    }


async def retention_of(bootstrap_servers: str, topic: str) -> int:
    """The broker's `retention.ms` for one topic (what `ensure_topics` set)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})]
        )
        ((_, _, _, _, entries),) = response.resources
        (entry,) = [e for e in entries if e[0] == "retention.ms"]
        return int(entry[1])
    finally:
        await admin.close()


async def delete_namespace(bootstrap_servers: str, prefix: str) -> list[str]:
    """Delete every topic of a namespace (a test's, once it ended), so that a long run does
    not pile up partitions: each keeps files open in the broker, and a broker out of file
    descriptors stops (seen after ~20,000 partitions on one node)."""
    if not prefix:
        raise ValueError("refusing to delete the topics of the empty namespace")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], within: float = 30
) -> None:
    """A new topic answers NOT_LEADER until its partitions have elected leaders; clients
    starting in that window retry, and a test racing them flakes."""
    deadline = time.monotonic() + within
    while True:
        described = await admin.describe_topics(names)
        if all(
            topic["error_code"] == 0
            and topic["partitions"]
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics without leaders after {within}s: {names}")
        await asyncio.sleep(0.1)


async def leader_of(bootstrap_servers: str, topic: str, partition: int) -> int:
    """The node id that leads one partition now (the broker a producer writes to)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        (found,) = [p for p in described["partitions"] if p["partition"] == partition]
        return int(found["leader"])
    finally:
        await admin.close()
