"""Find or start the real Kafka broker and PostgreSQL server for the test session.

Order: servers named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL; else testcontainers when a
Docker engine answers; else the local stack (`python -m devstack up`), stopped afterwards
if this session started it. A server that cannot be reached fails the test, never skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

HOW_TO_START = (
    "Start the servers with `uv run python -m devstack up` and export what it prints "
    "(KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL), or run the whole suite with `make test`."
)


@dataclass
class Servers:
    kafka_bootstrap: str
    database_url: str
    kafka_source: str
    postgres_source: str
    kafka_version: str = "unknown"
    postgres_version: str = "unknown"
    _cleanups: list[Any] = field(default_factory=list, repr=False)


def docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:
        return False


async def _kafka_cluster_id(bootstrap: str) -> str:
    """The cluster id: proves the broker answers (the protocol does not report its version)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        cluster = await admin.describe_cluster()
        return str(cluster["cluster_id"])
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _postgres_version(url: str) -> str:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return str(await conn.fetchval("SELECT version()"))
    finally:
        await conn.close()


@contextlib.contextmanager
def session_servers() -> Iterator[Servers]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    kafka_source = postgres_source = "environment"
    kafka_version = "unknown"
    with contextlib.ExitStack() as stack:
        if kafka is None or database is None:
            if docker_engine_answers():
                kafka, database = _from_testcontainers(stack, kafka, database)
                kafka_source = postgres_source = "testcontainers"
            else:
                kafka, database, kafka_version = _from_devstack(stack, kafka, database)
                kafka_source = postgres_source = "devstack"
        if kafka_version == "unknown":
            kafka_version = _devstack_kafka_version(kafka)
        servers = Servers(kafka, database, kafka_source, postgres_source)
        try:
            cluster_id = asyncio.run(_kafka_cluster_id(kafka))
        except Exception as exc:
            pytest.fail(
                f"Kafka at {kafka} is not reachable ({exc!r}). {HOW_TO_START}", pytrace=False
            )
        servers.kafka_version = f"Apache Kafka {kafka_version}, cluster {cluster_id}"
        try:
            servers.postgres_version = asyncio.run(_postgres_version(database))
        except Exception as exc:
            pytest.fail(
                f"PostgreSQL at {database} is not reachable ({exc!r}). {HOW_TO_START}",
                pytrace=False,
            )
        yield servers


def _devstack_kafka_version(bootstrap: str) -> str:
    """The version when the broker at `bootstrap` is the local stack's own."""
    from devstack.config import StackSettings
    from devstack.kafka import KafkaServer, kafka_version

    settings = StackSettings()
    if bootstrap == settings.kafka_bootstrap and KafkaServer(settings).running_pid():
        return kafka_version()
    return "unknown"


def _from_testcontainers(
    stack: contextlib.ExitStack, kafka: str | None, database: str | None
) -> tuple[str, str]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    if kafka is None:
        container = stack.enter_context(KafkaContainer().with_kraft())
        kafka = container.get_bootstrap_server()
    if database is None:
        pg = stack.enter_context(PostgresContainer("postgres:18", driver=None))
        database = pg.get_connection_url()
    return kafka, database


def _from_devstack(
    stack: contextlib.ExitStack, kafka: str | None, database: str | None
) -> tuple[str, str, str]:
    from devstack.config import StackSettings
    from devstack.kafka import KafkaServer, kafka_version
    from devstack.keycloak import KeycloakServer
    from devstack.postgres import PostgresServer
    from devstack.topics import ensure_topics

    settings = StackSettings()
    version = "unknown"
    try:
        if kafka is None:
            broker = KafkaServer(settings)
            if broker.start():
                stack.callback(broker.stop)
            asyncio.run(ensure_topics(settings.kafka_bootstrap))
            kafka, version = settings.kafka_bootstrap, kafka_version()
        if database is None:
            pg = PostgresServer(settings)
            if pg.start():
                stack.callback(pg.stop)
            database = settings.database_url
            provider = KeycloakServer(settings)  # staff sign in through it (the pages' tests)
            if provider.start():
                stack.callback(provider.stop)
    except Exception as exc:
        pytest.fail(f"could not start the local stack ({exc!r}). {HOW_TO_START}", pytrace=False)
    return kafka, database, version
