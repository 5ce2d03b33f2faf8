"""One contract for intake's write port (`intake.ports.Referrals`), run over both of its
implementations: the in-memory fake the unit tests use and the PostgreSQL adapter. A fake
that answers differently from the database fails here, not in a unit test that trusted it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from devstack.samples import gp_referral, self_referral
from intake.adapters.referral_store import PostgresReferrals
from intake.domain.lifecycle import Accept, Decide, Return, State, apply
from intake.domain.referral import (
    AcceptedReferral,
    RecordedDecision,
    accept_professional,
    accept_self_referral,
)
from intake.main import MIGRATIONS
from intake.ports import AuditEntry, ClockStart, IdempotencyConflict, Step, UnitOfWork
from shared.submission import ReferralSubmission
from tests.support.databases import opened
from tests.support.fakes import InMemoryReferrals, IntakeState
from tests.support.servers import Servers

TODAY = date.today()
SITE = "pelvic-bsol"


@pytest.fixture(params=["memory", "postgres"])
async def unit_of_work(
    request: pytest.FixtureRequest, servers: Servers, db_schema: str
) -> AsyncIterator[UnitOfWork]:
    if request.param == "memory":
        state = IntakeState()
        yield lambda: InMemoryReferrals(state)
        return
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield lambda: PostgresReferrals(database.pool)


def professional(**changes: object) -> AcceptedReferral:
    submission = ReferralSubmission.model_validate(
        gp_referral("M85001", **changes), context={"today": TODAY}
    )
    return accept_professional(
        submission, organisation_code="M85001", correlation_id="c-1", today=TODAY
    )


def herself() -> AcceptedReferral:
    submission = ReferralSubmission.model_validate(self_referral(), context={"today": TODAY})
    return accept_self_referral(submission, source="form", correlation_id="c-2", today=TODAY)


def routed_step(referral: AcceptedReferral) -> Step:
    decision = RecordedDecision.model_validate(
        {
            "outcome": "routed",
            "service": referral.submission.service,
            "destination": {"id": SITE, "name": "Birmingham"},
            "reasons": [{"rule": "r.x", "message": "Why."}],
            "rules_version": "v1",
            "decided_by": "rules",
            "decided_at": datetime.now(UTC),
        }
    )
    return Step(
        referral.referral_id,
        uuid.uuid4(),
        apply(State.RECEIVED, Decide(State.ROUTED)),
        "router",
        datetime.now(UTC),
        decision=decision,
    )


async def test_a_referral_is_kept_once_and_stands_received(unit_of_work: UnitOfWork) -> None:
    referral, other = professional(), professional()
    async with unit_of_work() as referrals:
        assert await referrals.add_many([referral]) == [True]
    async with unit_of_work() as referrals:
        same_reference = replace(other, tracking_reference=referral.tracking_reference)
        assert await referrals.add_many([referral, same_reference]) == [False, False]
        now = await referrals.standing([referral.referral_id, other.referral_id])
    assert list(now) == [referral.referral_id]
    standing = now[referral.referral_id]
    assert (standing.state, standing.tracking_reference, standing.organisation_code) == (
        State.RECEIVED,
        referral.tracking_reference,
        "M85001",
    )
    assert standing.received_event_id == referral.received.event_id
    assert (standing.destination, standing.decided_at) == (None, None)


async def test_what_a_failed_transaction_did_is_not_kept(unit_of_work: UnitOfWork) -> None:
    referral = professional()

    async def store_then_fail() -> None:
        async with unit_of_work() as referrals:
            await referrals.add_many([referral])
            raise RuntimeError("the request failed after storing")

    with pytest.raises(RuntimeError):
        await store_then_fail()
    async with unit_of_work() as referrals:
        assert await referrals.standing([referral.referral_id]) == {}


async def test_an_idempotency_key_answers_its_first_request_and_refuses_another(
    unit_of_work: UnitOfWork,
) -> None:
    referral = professional()
    async with unit_of_work() as referrals:
        await referrals.add_many([referral])
        assert await referrals.find_idempotent("M85001", "k-1", b"a") is None
        assert await referrals.remember_idempotent("M85001", "k-1", b"a", referral.referral_id)
        assert not await referrals.remember_idempotent("M85001", "k-1", b"a", referral.referral_id)
    async with unit_of_work() as referrals:
        assert await referrals.find_idempotent("M85001", "k-1", b"a") == referral.referral_id
        assert await referrals.find_idempotent("M85002", "k-1", b"a") is None  # per organisation
        with pytest.raises(IdempotencyConflict):
            await referrals.find_idempotent("M85001", "k-1", b"b")


async def test_an_action_key_keeps_its_first_answer(unit_of_work: UnitOfWork) -> None:
    referral = professional()
    answer = {"status": "cancelled", "referral_id": str(referral.referral_id)}
    async with unit_of_work() as referrals:
        await referrals.add_many([referral])
        assert await referrals.find_action("M85001", "c-1", b"a") is None
        assert await referrals.remember_action("M85001", "c-1", b"a", referral.referral_id, answer)
    async with unit_of_work() as referrals:
        assert await referrals.find_action("M85001", "c-1", b"a") == answer
        with pytest.raises(IdempotencyConflict):
            await referrals.find_action("M85001", "c-1", b"b")


async def test_the_inbox_takes_each_event_once_until_forgotten(unit_of_work: UnitOfWork) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with unit_of_work() as referrals:
        assert await referrals.first_times([first, second], "t") == {first, second}
    async with unit_of_work() as referrals:
        assert await referrals.first_times([first], "t") == set()
        await referrals.forget([first])
    async with unit_of_work() as referrals:
        assert await referrals.first_times([first, second], "t") == {first}


async def test_a_step_moves_the_referral_once(unit_of_work: UnitOfWork) -> None:
    referral = professional()
    step = routed_step(referral)
    async with unit_of_work() as referrals:
        await referrals.add_many([referral])
        await referrals.record_steps([step])
        await referrals.record_steps([step])  # the same transition again: nothing more
        standing = (await referrals.standing([referral.referral_id]))[referral.referral_id]
    assert (standing.state, standing.destination) == (State.ROUTED, SITE)
    assert standing.decided_at is not None


async def test_a_submission_is_read_back_and_replaced(unit_of_work: UnitOfWork) -> None:
    referral = professional()
    corrected = replace(
        professional(**{"clinical.reason": "Corrected."}), referral_id=referral.referral_id
    )
    async with unit_of_work() as referrals:
        await referrals.add_many([referral])
        assert await referrals.submission_of(referral.referral_id) == (
            referral.submission.model_dump(mode="json")
        )
        await referrals.replace_submission(corrected, reroute=True)
        kept = await referrals.submission_of(referral.referral_id)
        standing = (await referrals.standing([referral.referral_id]))[referral.referral_id]
    assert kept is not None
    assert kept["clinical"]["reason"] == "Corrected."
    assert standing.received_event_id == corrected.received.event_id
    async with unit_of_work() as referrals:
        assert await referrals.submission_of(uuid.uuid4()) is None


async def test_only_a_self_referral_is_found_by_its_reference(unit_of_work: UnitOfWork) -> None:
    hers, gp = herself(), professional()
    async with unit_of_work() as referrals:
        await referrals.add_many([hers, gp])
        found = await referrals.self_referral_by_reference(hers.tracking_reference)
        assert found == hers.referral_id
        assert await referrals.self_referral_by_reference(gp.tracking_reference) is None


async def test_a_clock_runs_from_its_step_fires_once_and_stops_with_the_next(
    unit_of_work: UnitOfWork,
) -> None:
    referral, other = professional(), professional()
    now = datetime.now(UTC)
    due = now + timedelta(days=7)
    started = replace(routed_step(referral), starts_clocks=(ClockStart("accept", now, due),))
    stopped_later = replace(routed_step(other), starts_clocks=(ClockStart("accept", now, due),))
    async with unit_of_work() as referrals:
        await referrals.add_many([referral, other])
        await referrals.record_steps([started, stopped_later])
    async with unit_of_work() as referrals:
        assert await referrals.due_clocks(due - timedelta(seconds=1), 10) == []
    accept = Step(
        other.referral_id, uuid.uuid4(), apply(State.ROUTED, Accept(SITE), destination=SITE),
        SITE, now, stops_clocks=("accept",),
    )  # fmt: skip
    async with unit_of_work() as referrals:
        await referrals.record_steps([accept])
    async with unit_of_work() as referrals:
        (clock,) = await referrals.due_clocks(due, 10)
        assert (clock.referral_id, clock.clock, clock.site, clock.state) == (
            referral.referral_id, "accept", SITE, State.ROUTED,
        )  # fmt: skip
        assert (clock.started_at, clock.due_at) == (now, due)
        await referrals.fire_clocks([(clock.deadline_id, True)], due)
    async with unit_of_work() as referrals:
        assert await referrals.due_clocks(due + timedelta(days=30), 10) == []
    again = replace(routed_step(referral), starts_clocks=(ClockStart("book", due, due),))
    async with unit_of_work() as referrals:
        await referrals.record_steps([again])
        (booking,) = await referrals.due_clocks(due, 10)
    assert booking.her_last_told_at == due  # the first breach told her


async def test_a_finished_referral_is_found_erased_once_and_audited(
    unit_of_work: UnitOfWork,
) -> None:
    finished, active = professional(), professional()
    now = datetime.now(UTC)
    returned = Step(
        finished.referral_id, uuid.uuid4(),
        apply(State.ROUTED, Return(SITE, "referrer"), destination=SITE), SITE, now,
    )  # fmt: skip
    async with unit_of_work() as referrals:
        await referrals.add_many([finished, active])
        await referrals.record_steps([routed_step(finished), routed_step(active), returned])
    async with unit_of_work() as referrals:
        assert await referrals.finished_before(now, 10) == []
        assert await referrals.finished_before(now + timedelta(seconds=1), 10) == [
            finished.referral_id
        ]
        found = await referrals.locate(finished.tracking_reference)
        assert found is not None
        assert (found.referral_id, found.state, found.erased_at) == (
            finished.referral_id, State.RETURNED, None,
        )  # fmt: skip
        await referrals.erase_details([finished.referral_id], now)
        await referrals.audit(
            [AuditEntry(now, "ops.jones", "erased", finished.referral_id, "asked", {})]
        )
    async with unit_of_work() as referrals:
        assert await referrals.finished_before(now + timedelta(days=1), 10) == []  # once
        by_id = await referrals.locate(str(finished.referral_id))
        assert by_id is not None
        assert by_id.erased_at == now
        assert await referrals.locate("WHR-0000-00000") is None
