"""Session fixtures: the real servers, and per-test topics, groups and schemas."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from devstack.services import run_cli, service_process
from devstack.topics import delete_namespace, ensure_topics
from shared.logging import configure_logging, copied_to
from standins.client import Standins, standins_process
from tests.support.intake_process import Intake
from tests.support.keys import INTAKE_PRIVATE_KEY
from tests.support.running import RunningIntake, intake_settings, running_intake
from tests.support.servers import Servers, session_servers


def pytest_configure(config: pytest.Config) -> None:
    # The tests send to the provider stand-ins, whose placeholder secrets need it; the tests of
    # the refusal outside it clear it themselves. Services started by tests inherit it.
    os.environ.setdefault("LOCAL_MODE", "true")
    config.addinivalue_line("markers", "last: run after every other test (whole-run checks)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    with session_servers() as found:
        plugins = request.config.pluginmanager
        reporter, capture = (
            plugins.get_plugin("terminalreporter"),
            plugins.get_plugin("capturemanager"),
        )
        lines = [
            f"Kafka ({found.kafka_source}): {found.kafka_version} at {found.kafka_bootstrap}",
            f"PostgreSQL ({found.postgres_source}): {found.postgres_version}",
        ]
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():  # the CI log shows what was used
                reporter.write_line("")
                for line in lines:
                    reporter.write_line(line)
        # Subprocesses started by tests (the services) reach the same servers.
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = found.kafka_bootstrap
        os.environ["DATABASE_URL"] = found.database_url
        os.environ["INTAKE_PRIVATE_KEY"] = INTAKE_PRIVATE_KEY
        yield found


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging("tests", "INFO", "json")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic_name() -> str:
    """A topic no other test uses (the broker creates it on first use)."""
    return unique("test.topic")


@pytest.fixture
def group_id() -> str:
    return unique("test-group")


@pytest.fixture
async def db_schema(servers: Servers) -> AsyncIterator[str]:
    """A PostgreSQL schema of this test's own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def pg(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(servers.database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def topic_prefix(servers: Servers) -> Iterator[str]:
    """A Kafka namespace of this test's own (KAFKA_TOPIC_PREFIX), deleted when it ends."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    asyncio.run(delete_namespace(servers.kafka_bootstrap, prefix))


@pytest.fixture
async def intake(
    servers: Servers, db_schema: str, topic_prefix: str
) -> AsyncIterator[RunningIntake]:
    """Intake running in this process against the real servers, in its own namespace."""
    settings = intake_settings(servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY)
    async with running_intake(settings, servers) as running:
        yield running


@pytest.fixture(scope="session")
def standins() -> Iterator[Standins]:
    """Notify-compatible API, SMTP and clinic webhook stand-ins (external providers only)."""
    with standins_process() as running:
        yield running


@pytest.fixture(scope="module")
def intake_process(servers: Servers) -> Iterator[Intake]:
    """A real intake process (its own namespace) for tests that need patient contacts."""
    prefix = f"tn{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(servers.kafka_bootstrap, prefix=prefix))
    env = {
        "KAFKA_TOPIC_PREFIX": prefix,
        "INTAKE_DB_SCHEMA": f"tn_intake_{uuid.uuid4().hex[:8]}",
        "INTAKE_CONSUMER_GROUP": f"intake-{uuid.uuid4().hex[:8]}",
    }
    with service_process("intake", env) as process:
        key = run_cli("intake", "keys", "create", "--organisation", "M85001", env=env)
        yield Intake(process, env, key)
    asyncio.run(delete_namespace(servers.kafka_bootstrap, prefix))


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the services log during the test, rendered as in production."""
    lines = io.StringIO()
    with copied_to(lines):
        yield lines
