"""A key found valid is remembered for a while (`intake.web.keys`), on the real PostgreSQL:
revoked, it is refused once it is no longer remembered (at once when nothing is
remembered); a wrong key is never remembered, so guessing is still counted and slowed. The
clock is injected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import Request

from intake.adapters import api_keys
from intake.main import MIGRATIONS
from intake.web.keys import ApiKeyDependency, api_key_dependency
from intake.web.problems import Problem
from shared.database import Database
from shared.rate_limits import RateLimits, parse_limit
from tests.support.databases import opened
from tests.support.servers import Servers

REQUEST = Request({"type": "http", "client": ("192.0.2.7", 40000), "headers": []})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def database(servers: Servers, db_schema: str) -> AsyncIterator[Database]:
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield database


def keys(database: Database, clock: Clock, remember_seconds: float) -> ApiKeyDependency:
    limits = RateLimits(database, b"a secret for the test")
    return api_key_dependency(
        database, limits, parse_limit("3/minute"), remember_seconds=remember_seconds,
        clock=clock,
    )  # fmt: skip


def bearer(secret: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)


async def status_of(api_key: ApiKeyDependency, secret: str) -> int:
    try:
        await api_key(REQUEST, bearer(secret))
    except Problem as refused:
        return refused.status
    return 200


async def test_a_revoked_key_is_refused_once_it_is_no_longer_remembered(
    database: Database,
) -> None:
    clock = Clock()
    api_key = keys(database, clock, remember_seconds=10)
    async with database.pool.acquire() as conn:
        key_id, secret = await api_keys.create(conn, "M85001")
    assert (await api_key(REQUEST, bearer(secret))).key_id == key_id
    async with database.pool.acquire() as conn:
        assert await api_keys.revoke(conn, key_id)
    clock.now += 9.5
    assert await status_of(api_key, secret) == 200  # still remembered
    clock.now += 1
    assert await status_of(api_key, secret) == 401


async def test_with_nothing_remembered_a_revoked_key_is_refused_at_once(
    database: Database,
) -> None:
    api_key = keys(database, Clock(), remember_seconds=0)
    async with database.pool.acquire() as conn:
        key_id, secret = await api_keys.create(conn, "M85001")
    assert await status_of(api_key, secret) == 200
    async with database.pool.acquire() as conn:
        await api_keys.revoke(conn, key_id)
    assert await status_of(api_key, secret) == 401


async def test_wrong_keys_are_never_remembered_and_still_slowed(database: Database) -> None:
    api_key = keys(database, Clock(), remember_seconds=10)
    async with database.pool.acquire() as conn:
        _, secret = await api_keys.create(conn, "M85001")
    assert [await status_of(api_key, "a guess") for _ in range(4)] == [401, 401, 401, 429]
    # A valid key not yet remembered is checked against the limit too, as before.
    assert await status_of(api_key, secret) == 429
