"""One contract for the router's port (`router.ports.Decisions`), run over the in-memory fake
the unit tests use and over the PostgreSQL adapter: the fake cannot drift from the database
without failing here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from devstack.samples import received_event
from router.adapters.decision_store import PostgresDecisions
from router.main import MIGRATIONS
from router.ports import UnitOfWork
from shared.contracts import (
    Outcome,
    ReferralReceived,
    ReferralReturned,
    ReferralState,
)
from tests.support.databases import opened
from tests.support.decisions import decided
from tests.support.fakes import InMemoryDecisions, RouterState
from tests.support.servers import Servers


@pytest.fixture(params=["memory", "postgres"])
async def unit_of_work(
    request: pytest.FixtureRequest, servers: Servers, db_schema: str
) -> AsyncIterator[UnitOfWork]:
    if request.param == "memory":
        state = RouterState()
        yield lambda: InMemoryDecisions(state)
        return
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield lambda: PostgresDecisions(database.pool)


def returned_to_triage(received: ReferralReceived, *, minutes: int) -> ReferralReturned:
    return ReferralReturned(
        correlation_id=received.correlation_id,
        referral_id=received.referral_id,
        tracking_reference=received.tracking_reference,
        service=received.service,
        before=ReferralState.ROUTED,
        after=ReferralState.NEEDS_TRIAGE,
        by="clinic",
        site="pelvic-bsol",
        to="triage",
        reason_code="wrong-site",
        reason="Not our area.",
        occurred_at=datetime.now(UTC) + timedelta(minutes=minutes),
    )


async def test_the_inbox_takes_each_event_once(unit_of_work: UnitOfWork) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with unit_of_work() as decisions:
        assert await decisions.first_times([first, second], "t") == {first, second}
    async with unit_of_work() as decisions:
        assert await decisions.first_times([first, second], "t") == set()


async def test_the_latest_decision_is_the_latest_in_time(unit_of_work: UnitOfWork) -> None:
    received = received_event()
    async with unit_of_work() as decisions:
        assert await decisions.lock_latest(received.referral_id) is None
        await decisions.record_many([(received, decided(received, Outcome.NEEDS_TRIAGE))])
        await decisions.record(decided(received, Outcome.ROUTED, minutes=1, by="Sam Jones"))
    async with unit_of_work() as decisions:
        latest = await decisions.lock_latest(received.referral_id)
    assert latest is not None
    assert latest.outcome == Outcome.ROUTED
    assert latest.received == received


async def test_an_amended_referral_is_decided_from_its_new_facts(unit_of_work: UnitOfWork) -> None:
    received = received_event()
    amended = received.model_copy(update={"event_id": uuid.uuid4(), "postcode_district": "B2"})
    async with unit_of_work() as decisions:
        await decisions.record_many([(received, decided(received, Outcome.ROUTED))])
    async with unit_of_work() as decisions:
        await decisions.record_many([(amended, decided(amended, Outcome.ROUTED, minutes=1))])
        latest = await decisions.lock_latest(received.referral_id)
    assert latest is not None
    assert latest.received.postcode_district == "B2"


async def test_triage_lists_what_awaits_a_person_oldest_first(unit_of_work: UnitOfWork) -> None:
    older, newer, routed = received_event(), received_event(), received_event()
    async with unit_of_work() as decisions:
        await decisions.record_many(
            [
                (newer, decided(newer, Outcome.NEEDS_TRIAGE, minutes=2)),
                (older, decided(older, Outcome.NEEDS_TRIAGE, minutes=1)),
                (routed, decided(routed, Outcome.ROUTED)),
            ]
        )
        pending = await decisions.pending_triage()
    assert [p.referral_id for p in pending] == [older.referral_id, newer.referral_id]
    assert pending[0].reasons[0].rule == "r.x"
    assert pending[0].service == older.service.value


async def test_a_return_to_triage_awaits_a_person_again(unit_of_work: UnitOfWork) -> None:
    received = received_event()
    async with unit_of_work() as decisions:
        await decisions.record_many([(received, decided(received, Outcome.ROUTED))])
        await decisions.keep_return(returned_to_triage(received, minutes=1))
        (pending,) = await decisions.pending_triage()
        latest = await decisions.lock_latest(received.referral_id)
    assert pending.referral_id == received.referral_id
    assert [r.rule for r in pending.reasons] == ["clinic.returned.wrong-site"]
    assert latest is not None
    assert latest.outcome == Outcome.NEEDS_TRIAGE


async def test_a_closed_referral_leaves_triage_for_good(unit_of_work: UnitOfWork) -> None:
    received, unknown = received_event(), uuid.uuid4()
    async with unit_of_work() as decisions:
        await decisions.record_many([(received, decided(received, Outcome.NEEDS_TRIAGE))])
        await decisions.close(received.referral_id, "cancelled")
        await decisions.close(unknown, "cancelled")  # a referral the router never saw
    async with unit_of_work() as decisions:
        assert await decisions.is_closed(received.referral_id)
        assert not await decisions.is_closed(unknown)
        assert await decisions.pending_triage() == []


async def test_what_a_failed_transaction_did_is_not_kept(unit_of_work: UnitOfWork) -> None:
    received = received_event()

    async def decide_then_fail() -> None:
        async with unit_of_work() as decisions:
            await decisions.record_many([(received, decided(received, Outcome.ROUTED))])
            raise RuntimeError("the batch failed after deciding")

    with pytest.raises(RuntimeError):
        await decide_then_fail()
    async with unit_of_work() as decisions:
        assert await decisions.lock_latest(received.referral_id) is None
