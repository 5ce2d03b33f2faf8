"""The services' pool on the real PostgreSQL: a connection goes back without a reset round
trip, and still leaves nothing behind for the next holder (an open transaction is rolled
back, a transaction's advisory lock is gone with it)."""

from __future__ import annotations

import asyncpg

from shared.database import create_pool
from tests.support.servers import Servers


async def test_a_released_connection_costs_no_round_trip_and_keeps_nothing(
    servers: Servers, db_schema: str
) -> None:
    pool = await create_pool(servers.database_url, db_schema, min_size=1, max_size=1)
    other = await asyncpg.connect(servers.database_url)
    try:
        async with pool.acquire() as conn:
            protocol = conn._con._protocol  # type: ignore[attr-defined]  # behind the proxy
            await conn.fetchval("SELECT 1")
            queries = protocol.queries_count
        assert protocol.queries_count == queries  # released: nothing sent to the server

        # A holder that leaves a transaction open (cancelled mid-way, say) with a lock in it.
        conn = await pool.acquire()
        await conn.transaction().start()
        await conn.execute("SELECT pg_advisory_xact_lock(42)")
        await pool.release(conn)

        async with pool.acquire() as conn:  # the same, only connection
            assert not conn.is_in_transaction()
            # Another session takes the lock at once: it went with the transaction.
            assert await other.fetchval("SELECT pg_try_advisory_lock(42)") is True
    finally:
        await other.close()
        await pool.close()
