"""Intake's use cases over an in-memory store: a referral kept once with its event, an
Idempotency-Key honoured, a reference already in use drawn again, a batch of self-referrals
kept each once. The PostgreSQL adapter is proven in tests/integration/intake."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest

from devstack.samples import gp_referral, self_referral
from intake import service_layer
from intake.adapters.api_keys import ApiKey
from intake.domain import referral as domain
from intake.domain.referral import NotYourOrganisation, accept_self_referral
from intake.ports import AlreadyUsed, IdempotencyConflict, UnitOfWork
from shared.submission import ReferralSubmission
from tests.support.fakes import InMemoryReferrals, IntakeState

TODAY = date.today()
KEY = ApiKey(key_id="k1", organisation_code="M85001", scope="referrer")


def store(state: IntakeState) -> UnitOfWork:
    return lambda: InMemoryReferrals(state)


def gp(**changes: object) -> ReferralSubmission:
    return ReferralSubmission.model_validate(
        gp_referral("M85001", **changes), context={"today": TODAY}
    )


async def submit(
    unit_of_work: UnitOfWork,
    submission: ReferralSubmission,
    key: tuple[str, bytes] | None,
    together: service_layer.StoredTogether | None = None,
) -> service_layer.Submitted:
    return await service_layer.submit_professional(
        unit_of_work, submission, api_key=KEY, idempotency=key, correlation_id="c-1",
        today=TODAY, together=together,
    )  # fmt: skip


async def test_a_referral_is_kept_with_its_event() -> None:
    state = IntakeState()
    submitted = await submit(store(state), gp(), None)
    assert list(state.referrals) == [submitted.referral_id]
    (event,) = state.outbox
    assert (event.referral_id, event.tracking_reference) == (
        submitted.referral_id,
        submitted.tracking_reference,
    )
    assert not submitted.replayed


async def test_the_same_key_and_request_replays_and_another_request_conflicts() -> None:
    state = IntakeState()
    first = await submit(store(state), gp(), ("k-1", b"hash-a"))
    again = await submit(store(state), gp(), ("k-1", b"hash-a"))
    assert (again.referral_id, again.replayed) == (first.referral_id, True)
    with pytest.raises(IdempotencyConflict):
        await submit(store(state), gp(), ("k-1", b"hash-b"))
    assert len(state.referrals) == len(state.outbox) == 1


async def test_a_key_recorded_first_by_a_concurrent_request_replays_its_answer() -> None:
    state = IntakeState()
    winner = (await submit(store(state), gp(), None)).referral_id  # the other request's

    def concurrent_request_commits_first(s: IntakeState) -> None:
        s.idempotency.setdefault(("M85001", "k-1"), (b"hash-a", winner))

    answer = await submit(
        lambda: InMemoryReferrals(state, before_remember=concurrent_request_commits_first),
        gp(),
        ("k-1", b"hash-a"),
    )
    assert (answer.referral_id, answer.replayed) == (winner, True)
    assert list(state.referrals) == [winner]  # this request's referral rolled back
    assert len(state.outbox) == 1


async def test_a_reference_already_in_use_is_drawn_again_and_given_up_after_three(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = IntakeState()
    first = await submit(store(state), gp(), None)
    draws = iter([first.tracking_reference])
    fresh = domain.new_tracking_reference
    monkeypatch.setattr(domain, "new_tracking_reference", lambda: next(draws, None) or fresh())
    second = await submit(store(state), gp(), None)
    assert second.tracking_reference != first.tracking_reference
    assert len(state.referrals) == 2

    monkeypatch.setattr(domain, "new_tracking_reference", lambda: first.tracking_reference)
    with pytest.raises(AlreadyUsed):
        await submit(store(state), gp(), None)
    assert len(state.referrals) == len(state.outbox) == 2


async def test_concurrent_requests_without_a_key_are_stored_in_one_transaction() -> None:
    state, transactions = IntakeState(), []

    def counted() -> InMemoryReferrals:
        transactions.append(1)
        return InMemoryReferrals(state)

    together = service_layer.StoredTogether(counted)
    answers = await asyncio.gather(*(submit(counted, gp(), None, together) for _ in range(5)))
    assert set(state.referrals) == {a.referral_id for a in answers}  # each answered its own
    assert len(state.outbox) == 5
    assert len(transactions) == 1


async def test_a_reference_in_use_is_drawn_again_when_stored_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = IntakeState()
    together = service_layer.StoredTogether(store(state))
    first = await submit(store(state), gp(), None, together)
    draws = iter([first.tracking_reference])
    fresh = domain.new_tracking_reference
    monkeypatch.setattr(domain, "new_tracking_reference", lambda: next(draws, None) or fresh())
    second = await submit(store(state), gp(), None, together)
    assert second.tracking_reference != first.tracking_reference
    assert len(state.referrals) == len(state.outbox) == 2


async def test_a_key_from_another_organisation_is_refused_before_anything_is_kept() -> None:
    state = IntakeState()
    with pytest.raises(NotYourOrganisation):
        await submit(store(state), ReferralSubmission.model_validate(
            gp_referral("Y00001"), context={"today": TODAY}), None)  # fmt: skip
    assert state == IntakeState()


async def test_self_referrals_are_kept_once_each_and_a_taken_reference_is_handed_back() -> None:
    state = IntakeState()

    def accepted(referral_id: uuid.UUID | None = None, reference: str | None = None) -> object:
        submission = ReferralSubmission.model_validate(self_referral(), context={"today": TODAY})
        return accept_self_referral(
            submission, source="form", correlation_id="c", today=TODAY,
            referral_id=referral_id, tracking_reference=reference,
        )  # fmt: skip

    a, b = accepted(), accepted()
    event_a, event_b = uuid.uuid4(), uuid.uuid4()
    taken = await service_layer.store_self_referrals(
        store(state),
        [(a, event_a), (a, event_a), (b, event_b)],
        topic="t",  # type: ignore[list-item]
    )
    assert taken == []
    assert set(state.referrals) == {a.referral_id, b.referral_id}  # type: ignore[attr-defined]
    assert len(state.outbox) == 2

    clash = accepted(uuid.uuid4(), b.tracking_reference)  # type: ignore[attr-defined]
    event_c = uuid.uuid4()
    taken = await service_layer.store_self_referrals(
        store(state),
        [(clash, event_c), (a, event_a)],
        topic="t",  # type: ignore[list-item]
    )
    assert taken == [(clash, event_c)]
    assert event_c not in state.inbox  # it may come again, once the form is fixed
    assert len(state.referrals) == 2
