"""One contract for the notifier's port (`notifier.ports.Notifications`), run over the
in-memory fake the unit tests use and over the PostgreSQL adapter: rows kept once, leases
that another process never takes while they live, the fence before a provider call, and an
ending kept only from the lease holder. A lease given as already ended (negative seconds)
stands for a holder that died, so no test waits on the clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from notifier.adapters.notification_store import PostgresNotifications
from notifier.main import MIGRATIONS
from notifier.ports import Ending, Key, Notifications
from tests.support.databases import opened
from tests.support.fakes import InMemoryNotifications, NotifierState
from tests.support.servers import Servers

LIVE, ENDED = 30.0, -1.0


@pytest.fixture(params=["memory", "postgres"])
async def store(
    request: pytest.FixtureRequest, servers: Servers, db_schema: str
) -> AsyncIterator[Notifications]:
    if request.param == "memory":
        yield InMemoryNotifications(NotifierState())
        return
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield PostgresNotifications(database)


def key(recipient: str = "patient", channel: str = "sms") -> Key:
    return (uuid.uuid4(), recipient, channel)


async def one_row(store: Notifications) -> uuid.UUID:
    (row,) = (await store.ensure([(key(), uuid.uuid4())])).values()
    return row.notification_id


async def test_a_row_is_made_once_and_keeps_its_state(store: Notifications) -> None:
    wanted = [(key(), uuid.uuid4()), (key("clinic", "webhook"), uuid.uuid4())]
    first = await store.ensure(wanted)
    assert {row.status for row in first.values()} == {"pending"}
    assert {row.attempts for row in first.values()} == {0}
    (patient, _clinic) = [first[k].notification_id for k, _ in wanted]
    await store.claim([patient], uuid.uuid4(), LIVE)
    again = await store.ensure(wanted)
    assert {k: r.notification_id for k, r in again.items()} == {
        k: r.notification_id for k, r in first.items()
    }
    assert (again[wanted[0][0]].status, again[wanted[0][0]].attempts) == ("sending", 1)


async def test_a_live_lease_is_never_taken_but_an_ended_one_is(store: Notifications) -> None:
    row = await one_row(store)
    holder, other = uuid.uuid4(), uuid.uuid4()
    assert await store.claim([row], holder, LIVE) == {row: "pending"}
    assert await store.claim([row], other, LIVE) == {}
    assert await store.claim([row], holder, LIVE) == {row: "sending"}  # its own, again

    dead = await one_row(store)
    assert await store.claim([dead], holder, ENDED) == {dead: "pending"}
    assert await store.claim([dead], other, LIVE) == {dead: "sending"}  # taken over


async def test_the_fence_holds_only_for_the_live_holder(store: Notifications) -> None:
    row = await one_row(store)
    holder, other = uuid.uuid4(), uuid.uuid4()
    await store.claim([row], holder, LIVE)
    assert await store.still_ours(row, holder, LIVE)
    assert not await store.still_ours(row, other, LIVE)
    assert await store.still_ours(row, holder, ENDED)  # renewed, as ended: the holder stalled
    assert not await store.still_ours(row, holder, LIVE)


async def test_an_ending_is_kept_only_from_the_holder_and_the_decision_marked_handled(
    store: Notifications,
) -> None:
    decision, referral = uuid.uuid4(), uuid.uuid4()
    wanted = [((decision, "patient", "sms"), referral), ((decision, "clinic", "webhook"), referral)]
    rows = await store.ensure(wanted)
    sms, hook = (rows[k].notification_id for k, _ in wanted)
    holder, late = uuid.uuid4(), uuid.uuid4()
    await store.claim([sms, hook], holder, LIVE)
    assert await store.already_handled([decision]) == set()

    await store.finish(
        [Ending(sms, "failed", error="lost its lease")], [(decision, "t")], owner=late
    )
    await store.finish(
        [Ending(sms, "sent", provider_id="n-1"), Ending(hook, "sent", provider_id="w-1")],
        [(decision, "referrals.routed")],
        owner=holder,
    )
    kept = await store.ensure(wanted)
    assert {k: r.status for k, r in kept.items()} == {k: "sent" for k, _ in wanted}
    assert await store.already_handled([decision, uuid.uuid4()]) == {decision}
    assert await store.claim([sms, hook], late, LIVE) == {}  # an ended row is not sent again


async def test_a_row_never_claimed_can_be_ended_failed(store: Notifications) -> None:
    """A patient who cannot be reached: her row ends failed without a send."""
    row = await one_row(store)
    await store.finish([Ending(row, "failed", error="no way to reach her")], [], owner=uuid.uuid4())
    assert await store.claim([row], uuid.uuid4(), LIVE) == {}


async def test_reopening_a_replayed_event_retries_its_failures_and_keeps_its_sent(
    store: Notifications,
) -> None:
    """An operator's replay: the event's failed message is pending again and the event is no
    longer handled; its sent message, and another event's failure, stay as they were."""
    replayed, other, referral, holder = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    failed, sent, theirs = (replayed, "patient", "sms"), (replayed, "clinic", "webhook"), (
        other, "patient", "sms",
    )  # fmt: skip
    rows = await store.ensure([(failed, referral), (sent, referral), (theirs, referral)])
    ids = {k: r.notification_id for k, r in rows.items()}
    await store.claim(list(ids.values()), holder, LIVE)
    await store.finish(
        [
            Ending(ids[failed], "failed", error="template missing"),
            Ending(ids[sent], "sent", provider_id="w-1"),
            Ending(ids[theirs], "failed", error="template missing"),
        ],
        [(replayed, "referrals.routed"), (other, "referrals.routed")],
        owner=holder,
    )

    assert await store.reopen_failed([replayed]) == 1
    assert await store.already_handled([replayed, other]) == {other}
    again = await store.ensure([(failed, referral), (sent, referral), (theirs, referral)])
    assert {k: r.status for k, r in again.items()} == {
        failed: "pending",
        sent: "sent",
        theirs: "failed",
    }
    assert await store.reopen_failed([replayed]) == 0  # nothing failed is left to reopen
