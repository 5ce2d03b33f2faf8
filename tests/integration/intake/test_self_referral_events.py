"""Self-referral events on the real broker: stored once, or dead-lettered with the reason."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from devstack.samples import gp_referral, self_referral
from intake.domain.tracking import new_tracking_reference
from shared.contracts import DeadLetter, ReferralReceived, SelfReferralSubmitted
from shared.kafka import build_broker, publish_event
from shared.sealed import open_sealed, seal
from shared.submission import ReferralSubmission
from tests.support.kafka_reader import body, wait_for
from tests.support.keys import INTAKE_PRIVATE_KEY, INTAKE_PUBLIC_KEY
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

SELF_REFERRAL, DLQ, RECEIVED = (
    "referrals.self-referral",
    "referrals.self-referral.dlq",
    "referrals.received",
)


def sealed_event(payload: dict[str, Any], **fields: Any) -> SelfReferralSubmitted:
    return SelfReferralSubmitted(
        correlation_id=str(uuid.uuid4()),
        source="partner-form",
        sealed_submission=seal(INTAKE_PUBLIC_KEY, json.dumps(payload).encode()),
        **fields,
    )


async def publish(intake: RunningIntake, event: SelfReferralSubmitted) -> None:
    async with build_broker(intake.servers.kafka_bootstrap, "test-form") as broker:
        await publish_event(
            broker, event, key=str(event.event_id), topic=intake.topic(SELF_REFERRAL)
        )


async def publish_raw(intake: RunningIntake, raw: bytes) -> None:
    async with build_broker(intake.servers.kafka_bootstrap, "test-form") as broker:
        await broker.publish(raw, topic=intake.topic(SELF_REFERRAL), key=b"raw")


async def dead_letters(intake: RunningIntake, count: int) -> list[DeadLetter]:
    records = await wait_for(
        intake.servers.kafka_bootstrap, intake.topic(DLQ), lambda _r: True, count=count
    )
    return [DeadLetter.model_validate(body(r)) for r in records]


async def received(intake: RunningIntake, count: int) -> list[ReferralReceived]:
    records = await wait_for(
        intake.servers.kafka_bootstrap, intake.topic(RECEIVED), lambda _r: True, count=count
    )
    for record in records:
        assert identifiers_in(record.value.decode()) == []  # type: ignore[union-attr]
    return [ReferralReceived.model_validate(body(r)) for r in records]


async def test_a_sealed_self_referral_is_stored_and_handed_on_once(intake: RunningIntake) -> None:
    event = sealed_event(self_referral())
    await publish(intake, event)
    await publish(intake, event)  # redelivered, or published twice by the form

    events = await received(intake, 1)
    assert len(events) == 1
    assert (events[0].referrer_role, events[0].referrer_organisation_code) == ("self", None)
    assert events[0].postcode_district == "BS8"
    assert await intake.count("referrals") == 1
    # The topic itself is safe to watch: nothing but sealed text.
    raw = [r.value.decode() for r in await intake.events(SELF_REFERRAL)]  # type: ignore[union-attr]
    assert all(identifiers_in(text) == [] for text in raw)


async def test_a_form_supplied_reference_is_kept(intake: RunningIntake) -> None:
    referral_id, reference = uuid.uuid4(), new_tracking_reference()
    await publish(
        intake,
        sealed_event(self_referral(), referral_id=referral_id, tracking_reference=reference),
    )
    (event,) = await received(intake, 1)
    assert (event.referral_id, event.tracking_reference) == (referral_id, reference)


async def test_poison_events_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    intake: RunningIntake,
) -> None:
    invalid = sealed_event(self_referral(**{"patient.postcode": "NOWHERE"}))
    professional = sealed_event(gp_referral())
    not_for_us = SelfReferralSubmitted(
        correlation_id="c",
        source="partner-form",
        sealed_submission=base64.b64encode(b"x" * 64).decode(),
    )
    # A partner form's mistake: a clear-text submission (here without identifiers, so that
    # the whole-run topic scan stays meaningful).
    plaintext = json.dumps({"service": "pelvic-health", "referrer": {"role": "self"}}).encode()
    for event in (invalid, professional, not_for_us):
        await publish(intake, event)
    await publish_raw(intake, plaintext)
    await publish(intake, sealed_event(self_referral()))  # a good one after the poison

    letters = await dead_letters(intake, 4)
    assert len(letters) == 4
    by_reason = {letter.reason.split(":")[0]: letter for letter in letters}
    assert "patient.postcode" in by_reason["invalid submission"].reason
    assert any("referrer.role 'self'" in letter.reason for letter in letters)
    assert any("cannot be opened" in letter.reason for letter in letters)

    # Original bytes kept; a well-formed envelope as it was, clear text sealed first.
    envelope = by_reason["invalid submission"]
    assert not envelope.original_sealed
    restored = SelfReferralSubmitted.model_validate_json(base64.b64decode(envelope.original_base64))
    assert restored.event_id == invalid.event_id
    clear = by_reason["not a SelfReferralSubmitted event"]
    assert clear.original_sealed
    assert open_sealed(INTAKE_PRIVATE_KEY, clear.original_base64) == plaintext
    assert clear.original_size == len(plaintext)
    assert not clear.original_truncated
    for letter in letters:
        assert identifiers_in(letter.model_dump_json()) == []
        assert letter.source_topic == intake.topic(SELF_REFERRAL)

    assert len(await received(intake, 1)) == 1
    assert await intake.count("referrals") == 1


async def test_a_submission_validates_the_same_way_as_the_api(intake: RunningIntake) -> None:
    bad_date = self_referral(**{"clinical.expected_delivery_date": None})
    await publish(intake, sealed_event(bad_date))
    (letter,) = await dead_letters(intake, 1)
    assert "clinical.expected_delivery_date" in letter.reason
    ReferralSubmission.model_validate(self_referral())  # the unchanged sample is valid


async def test_an_id_or_reference_already_in_use_is_dead_lettered_and_the_first_kept(
    intake: RunningIntake,
) -> None:
    referral_id, reference = uuid.uuid4(), new_tracking_reference()
    first = sealed_event(self_referral(), referral_id=referral_id, tracking_reference=reference)
    same_id = sealed_event(
        self_referral(), referral_id=referral_id, tracking_reference=new_tracking_reference()
    )
    same_reference = sealed_event(
        self_referral(), referral_id=uuid.uuid4(), tracking_reference=reference
    )
    async with build_broker(intake.servers.kafka_bootstrap, "test-form") as broker:
        for event in (first, same_id, same_reference):  # one partition key: one batch, in order
            await publish_event(broker, event, key="one-form", topic=intake.topic(SELF_REFERRAL))

    letters = await dead_letters(intake, 2)
    assert {letter.reason for letter in letters} == {
        "the referral id or tracking reference is already in use"
    }
    rejected = {
        SelfReferralSubmitted.model_validate_json(base64.b64decode(letter.original_base64)).event_id
        for letter in letters
    }
    assert rejected == {same_id.event_id, same_reference.event_id}
    (stored,) = await received(intake, 1)
    assert (stored.referral_id, stored.tracking_reference) == (referral_id, reference)
    assert await intake.count("referrals") == 1
    assert await intake.count("inbox") == 1  # the refused events may be replayed after a fix
