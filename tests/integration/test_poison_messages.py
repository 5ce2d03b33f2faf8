"""Poison on the real broker: whatever arrives, each consumer dead-letters it with a reason and
processes the valid message published after it (issue 11, defects 1 to 3)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devstack.samples import gp_referral, self_referral
from router.main import create_service
from shared.contracts import DeadLetter, ReferralRouted
from shared.dead_letters import MAX_KEPT_ORIGINAL_BYTES
from shared.kafka import build_broker, publish_event
from shared.sealed import open_sealed
from shared.service import Service
from tests.integration.intake.test_self_referral_events import (
    dead_letters,
    publish,
    publish_raw,
    received,
    sealed_event,
)
from tests.integration.router.test_router_service import decisions, router_settings
from tests.integration.router.test_router_service import publish as publish_received
from tests.integration.router.test_router_service import received as received_event
from tests.support.kafka_reader import body, wait_for
from tests.support.keys import INTAKE_PRIVATE_KEY, INTAKE_PUBLIC_KEY
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake, running
from tests.support.servers import Servers

LARGE = 700 * 1024  # with the old double encoding, its dead letter passed the 1 MiB limit


CLEAR = "UNSEALED-CLEAR-TEXT"  # stands for patient details: never on a topic of the run


def _clear_patient_json(size: int) -> bytes:
    """A partner's mistake: clear text where a sealed submission belongs, padded to `size`
    bytes (no real identifiers, so that the whole-run topic scan stays meaningful)."""
    text = json.dumps({"patient": {"given_name": CLEAR}, "pad": ""})
    return (text[:-2] + "p" * size + '"}').encode()[:size]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient.date_of_birth": "1850-01-01"}, "patient.date_of_birth"),
        ({"clinical.reason": "Pain\u0000 in pregnancy."}, "clinical.reason"),
        ({"patient.given_name": "Am\u0000ara"}, "patient.given_name"),
    ],
    ids=["born-1850", "nul-in-reason", "nul-in-name"],
)
async def test_a_submission_no_later_step_can_take_is_dead_lettered_and_the_next_stored(
    intake: RunningIntake, change: dict[str, Any], field: str
) -> None:
    await publish(intake, sealed_event(self_referral(**change)))
    await publish(intake, sealed_event(self_referral()))

    (letter,) = await dead_letters(intake, 1)
    assert field in letter.reason
    assert len(await received(intake, 1)) == 1
    assert await intake.count("referrals") == 1


async def test_a_large_message_is_dead_lettered_cut_short_and_sealed(
    intake: RunningIntake,
) -> None:
    raw = _clear_patient_json(LARGE)
    await publish_raw(intake, raw)
    await publish(intake, sealed_event(self_referral()))

    (letter,) = await dead_letters(intake, 1)
    assert (letter.original_size, letter.original_truncated) == (LARGE, True)
    assert letter.original_sealed
    kept = open_sealed(INTAKE_PRIVATE_KEY, letter.original_base64)
    assert kept == raw[:MAX_KEPT_ORIGINAL_BYTES]
    assert identifiers_in(letter.model_dump_json()) == []
    assert CLEAR not in letter.model_dump_json()
    assert len(await received(intake, 1)) == 1


@pytest.fixture
async def router(servers: Servers, db_schema: str, topic_prefix: str) -> AsyncIterator[Service]:
    settings = router_settings(
        servers, db_schema, topic_prefix, dead_letter_public_key=INTAKE_PUBLIC_KEY
    )
    async with running(create_service(settings), servers) as (service, _client):
        yield service


async def router_dead_letters(router: Service, servers: Servers, count: int) -> list[DeadLetter]:
    topic = router.settings.kafka_topic_prefix + "referrals.received.dlq"
    records = await wait_for(servers.kafka_bootstrap, topic, lambda _r: True, count=count)
    return [DeadLetter.model_validate(body(r)) for r in records]


async def test_the_router_dead_letters_a_nul_or_a_large_message_and_decides_the_next(
    router: Service, servers: Servers
) -> None:
    prefix = router.settings.kafka_topic_prefix
    nul = received_event().model_dump(mode="json") | {"sex_at_birth": "fem\u0000ale"}
    nul_in_condition = received_event().model_dump(mode="json") | {"conditions": ["a\u0000"]}
    for poison in (nul, nul_in_condition):
        await publish_received(servers, prefix, json.dumps(poison).encode())
    await publish_received(servers, prefix, _clear_patient_json(800 * 1024))
    good = received_event()
    await publish_received(servers, prefix, good)

    letters = await router_dead_letters(router, servers, 3)
    assert len(letters) == 3
    assert all(letter.reason.startswith("not a ReferralReceived event") for letter in letters)
    # Unreadable originals may hold anything: sealed to the operators' key, never in clear.
    assert all(letter.original_sealed for letter in letters)
    assert all(CLEAR not in letter.model_dump_json() for letter in letters)
    assert open_sealed(INTAKE_PRIVATE_KEY, letters[0].original_base64) == json.dumps(nul).encode()
    assert sorted(letter.original_truncated for letter in letters) == [False, False, True]
    assert [d["referral_id"] for d in await decisions(router)] == [good.referral_id]


async def test_the_status_consumer_dead_letters_what_it_cannot_read_and_keeps_the_next(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key()
    answer = await intake.client.post(
        "/v1/referrals", json=gp_referral(), headers={"Authorization": f"Bearer {key}"}
    )
    referral = answer.json()
    routed = ReferralRouted(
        correlation_id="c",
        referral_id=referral["referral_id"],
        tracking_reference=referral["tracking_reference"],
        received_event_id=await intake.received_event_id(referral["referral_id"]),
        service="pelvic-health",  # type: ignore[arg-type]
        destination={"id": "pelvic-bsol", "name": "Pelvic health"},  # type: ignore[arg-type]
        reasons=(),
        rules_version="test",
    )
    topic = intake.topic("referrals.routed")
    async with build_broker(intake.servers.kafka_bootstrap, "test-router") as broker:
        await broker.publish(_clear_patient_json(LARGE), topic=topic, key=b"poison")
        await broker.publish(b"\x00not json", topic=topic, key=b"poison")
        await publish_event(broker, routed, key=str(routed.referral_id), topic=topic)

    letters = await wait_for(
        intake.servers.kafka_bootstrap,
        intake.topic("referrals.status.dlq"),
        lambda _r: True,
        count=2,
    )
    assert len(letters) == 2
    assert all(DeadLetter.model_validate(body(r)).original_sealed for r in letters)

    async def routed() -> bool:
        seen = await intake.client.get(
            f"/v1/referrals/{referral['referral_id']}", headers={"Authorization": f"Bearer {key}"}
        )
        return bool(seen.json()["status"] == "routed")

    deadline = time.monotonic() + 30
    while not await routed():
        assert time.monotonic() < deadline, "the decision after the poison was not kept"
        await asyncio.sleep(0.2)
