"""Create the system's topics with the partitions declared in shared.topics."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.topics import ALL_TOPICS, Topic


async def ensure_topics(
    bootstrap_servers: str, topics: tuple[Topic, ...] = ALL_TOPICS, prefix: str = ""
) -> list[str]:
    """Create whichever topics are missing; return the names created. Safe to run twice.

    `prefix` gives a namespace of its own (KAFKA_TOPIC_PREFIX), as each test uses."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.qualified(prefix) not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(t.qualified(prefix), num_partitions=t.partitions, replication_factor=1)
                    for t in missing
                ]
            )
        return [t.qualified(prefix) for t in missing]
    finally:
        await admin.close()
