"""The form over HTTP (in process): CSRF, rate limit, errors, and the event it emits."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from devstack.samples import FORM_PATIENT, days_from_today, gp_referral
from intake.web.csrf import FIELD
from shared.contracts import ReferralNeedsTriage, ReferralRouted, SelfReferralSubmitted
from shared.kafka import build_broker, publish_event
from tests.support.forms import date_fields
from tests.support.kafka_reader import body, wait_for
from tests.support.keys import INTAKE_PRIVATE_KEY
from tests.support.running import RunningIntake, intake_settings, running_intake
from tests.support.servers import Servers
from tests.support.waiting import settled

FORM = "/self-referral/pelvic-health"


def filled(token: str) -> dict[str, str | list[str]]:
    return {
        FIELD: token,
        "patient.given_name": FORM_PATIENT["given_name"],
        "patient.family_name": FORM_PATIENT["family_name"],
        **date_fields("patient.date_of_birth", FORM_PATIENT["date_of_birth"]),
        "patient.sex_at_birth": "female",
        "patient.nhs_number": FORM_PATIENT["nhs_number"],
        "patient.postcode": FORM_PATIENT["postcode"],
        "clinical.pregnancy_status": "postnatal",
        **date_fields("clinical.delivery_date", days_from_today(-62)),
        "clinical.reason": "Some leaking since my baby was born.",
        "patient.email": FORM_PATIENT["email"],
        "patient.contact_preferences": ["email"],
    }


async def token(intake: RunningIntake) -> str:
    page = await intake.client.get(FORM)
    assert page.status_code == 200
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_valid_form_emits_one_sealed_event_and_shows_the_reference(
    intake: RunningIntake,
) -> None:
    response = await intake.client.post(FORM, data=filled(await token(intake)))
    assert response.status_code == 303
    reference = response.headers["Location"].rsplit("/", 1)[1]
    page = await intake.client.get(response.headers["Location"])
    assert reference in page.text

    records = await wait_for(
        intake.servers.kafka_bootstrap, intake.topic("referrals.self-referral"), lambda _r: True
    )
    assert len(records) == 1
    event = SelfReferralSubmitted.model_validate(body(records[0]))
    assert event.tracking_reference == reference
    assert FORM_PATIENT["family_name"] not in records[0].value.decode()  # type: ignore[union-attr]

    received = await intake.wait_events("referrals.received", str(event.referral_id))
    assert len(received) == 1
    assert body(received[0])["tracking_reference"] == reference


async def test_errors_are_summarised_and_kept_next_to_each_field(intake: RunningIntake) -> None:
    data = filled(await token(intake))
    data["patient.postcode"] = "nowhere"
    data["patient.given_name"] = ""
    response = await intake.client.post(FORM, data=data)

    assert response.status_code == 422
    assert "<title>Error:" in response.text
    assert 'href="#patient-postcode"' in response.text
    assert 'href="#patient-given_name"' in response.text
    assert "Enter your first name." in response.text
    assert 'aria-describedby="patient-postcode-error"' in response.text
    assert FORM_PATIENT["family_name"] in response.text  # what she typed is kept for her
    assert await intake.events("referrals.self-referral") == []


@pytest.mark.parametrize("csrf", [None, "forged"])
async def test_a_post_without_the_page_token_is_refused(
    intake: RunningIntake, csrf: str | None
) -> None:
    await token(intake)  # the browser has the cookie, but not the field
    data = filled("x")
    if csrf is None:
        del data[FIELD]
    else:
        data[FIELD] = csrf
    response = await intake.client.post(FORM, data=data)
    assert response.status_code == 403
    assert await intake.events("referrals.self-referral") == []


async def test_submissions_are_rate_limited_per_client(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    settings = intake_settings(
        servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY, form_rate_limit="2/minute"
    )
    async with running_intake(settings, servers) as intake:
        statuses = []
        for _ in range(3):
            data = filled(await token(intake))
            data["patient.postcode"] = "nowhere"  # invalid: counts, but emits nothing
            statuses.append((await intake.client.post(FORM, data=data)).status_code)
        assert statuses == [422, 422, 429]


async def test_a_decision_becomes_the_referral_status(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    headers = {"Authorization": f"Bearer {key}"}
    answer = (await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)).json()
    decision = ReferralRouted(
        correlation_id="c",
        referral_id=uuid.UUID(answer["referral_id"]),
        tracking_reference=answer["tracking_reference"],
        received_event_id=await intake.received_event_id(answer["referral_id"]),
        service="pelvic-health",
        destination={"id": "pelvic-bsol", "name": "Birmingham and Solihull pelvic health"},
        reasons=[{"rule": "pelvic.area-has-clinic", "message": "Her area has a clinic."}],
        rules_version="sha256:test",
    )
    async with build_broker(intake.servers.kafka_bootstrap, "test-router") as broker:
        topic = intake.topic("referrals.routed")
        await publish_event(broker, decision, key=answer["referral_id"], topic=topic)

    for _ in range(100):
        status = (await intake.client.get(answer["status_url"], headers=headers)).json()
        if status["decision"]:
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "routed"
    assert status["decision"]["destination"]["id"] == "pelvic-bsol"
    assert status["decision"]["rules_version"] == "sha256:test"


async def test_the_latest_decision_wins_whatever_order_they_arrive_in(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key("M85001")
    headers = {"Authorization": f"Bearer {key}"}
    answer = (await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)).json()
    common: dict[str, Any] = {
        "correlation_id": "c",
        "referral_id": uuid.UUID(answer["referral_id"]),
        "tracking_reference": answer["tracking_reference"],
        "received_event_id": await intake.received_event_id(answer["referral_id"]),
        "service": "pelvic-health",
        "reasons": [{"rule": "r", "message": "Because."}],
        "rules_version": "sha256:test",
    }
    now = datetime.now(UTC)
    triage = ReferralNeedsTriage(**common, destination=None, occurred_at=now - timedelta(minutes=5))
    resolved = ReferralRouted(
        **common,
        destination={"id": "pelvic-bsol", "name": "Birmingham and Solihull pelvic health"},
        occurred_at=now,
    )
    async with build_broker(intake.servers.kafka_bootstrap, "test-router") as broker:
        for event in (resolved, triage, resolved):  # the older one arrives in between
            topic = intake.topic(event.TOPIC.name)
            await publish_event(broker, event, key=answer["referral_id"], topic=topic)

    async def current() -> dict[str, Any]:
        return dict((await intake.client.get(answer["status_url"], headers=headers)).json())

    async for attempt in AsyncRetrying(stop=stop_after_delay(10), wait=wait_fixed(0.1)):
        with attempt:
            assert (await current())["decision"]  # the first has been taken ...
    await settled(  # ... and then all three (they share the referral's partition)
        intake.servers.kafka_bootstrap,
        intake.servers.database_url,
        prefix=intake.prefix,
        groups=[intake.settings.consumer_group],
        schemas=[intake.settings.db_schema],
    )
    status = await current()
    assert status["status"] == "routed"
    assert datetime.fromisoformat(status["decision"]["decided_at"]) == now
