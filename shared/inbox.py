"""The inbox: the ids of events a service has handled, so that a redelivered event is
recognised and skipped. Written in the same transaction as the state the event changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from shared.database import Connection


async def first_times(conn: Connection, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
    """Record a batch as handled; return the ids that were not handled before."""
    rows = await conn.fetch(
        "INSERT INTO inbox (event_id, topic) SELECT e, $2 FROM unnest($1::uuid[]) AS e"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
        topic,
    )
    return {row["event_id"] for row in rows}


async def record(conn: Connection, handled: Iterable[tuple[UUID, str]]) -> None:
    """Record events (id, topic) as handled; those already recorded stay as they were."""
    pairs = list(handled)
    await conn.execute(
        "INSERT INTO inbox (event_id, topic) SELECT * FROM unnest($1::uuid[], $2::text[])"
        " ON CONFLICT DO NOTHING",
        [event_id for event_id, _ in pairs],
        [topic for _, topic in pairs],
    )


async def already_handled(conn: Connection, event_ids: Sequence[UUID]) -> set[UUID]:
    """Which of these events were handled before (without recording anything)."""
    rows = await conn.fetch(
        "SELECT event_id FROM inbox WHERE event_id = ANY($1::uuid[])", list(event_ids)
    )
    return {row["event_id"] for row in rows}


async def forget(conn: Connection, event_ids: Sequence[UUID]) -> None:
    """Undo entries: their events were not handled after all, and may come again."""
    await conn.execute("DELETE FROM inbox WHERE event_id = ANY($1::uuid[])", list(event_ids))
