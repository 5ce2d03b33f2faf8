"""Trimming what the transport left behind (docs/running.md, "What is kept, and for how
long"): an outbox row once published is only history, and an inbox row is needed only while
its event could be delivered again, that is while a topic may still hold it.

So published outbox rows go after `OUTBOX_KEEP_HOURS` (parked ones stay: an operator must
look at them), and handled inbox rows after the longest topic retention and a day more
(`shared.topics`), never sooner: an id forgotten while its record can come again would let
the event be handled twice. Each service trims its own tables, in small batches (short
locks), however many processes do it at once (DELETE takes each row once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from shared.database import Database
from shared.logging import get_logger
from shared.topics import longest_retention

log = get_logger(__name__)
BATCH = 5000
INBOX_MARGIN = timedelta(days=1)  # beyond the longest topic retention: clocks differ
PURGED = Counter(
    "retention_purged_total",
    "Rows trimmed by retention: published outbox rows, handled inbox rows.",
    ["table"],
)


def inbox_keep() -> timedelta:
    return longest_retention() + INBOX_MARGIN


@dataclass(frozen=True)
class Purged:
    outbox: int
    inbox: int


async def purge_transport(database: Database, now: datetime, outbox_keep: timedelta) -> Purged:
    """Delete published outbox rows older than `outbox_keep` and inbox rows older than
    `inbox_keep()`, a batch at a time until none is left."""
    outbox = await _in_batches(
        database,
        "DELETE FROM outbox WHERE event_id IN (SELECT event_id FROM outbox"
        " WHERE published_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        now - outbox_keep,
    )
    inbox = await _in_batches(
        database,
        "DELETE FROM inbox WHERE event_id IN (SELECT event_id FROM inbox"
        " WHERE handled_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        now - inbox_keep(),
    )
    PURGED.labels("outbox").inc(outbox)
    PURGED.labels("inbox").inc(inbox)
    if outbox or inbox:
        log.info("transport trimmed", outbox_rows=outbox, inbox_rows=inbox)
    return Purged(outbox, inbox)


async def _in_batches(database: Database, statement: str, before: datetime) -> int:
    total = 0
    while True:
        status = await database.pool.execute(statement, before, BATCH)
        deleted = int(status.rsplit(" ", 1)[-1])  # "DELETE n"
        total += deleted
        if deleted < BATCH:
            return total
