"""A woman cancels her own request from the self-referral pages: the same answer whether or
not her details matched; her request cancelled once, and the step announced once."""

from __future__ import annotations

import json
import re

from devstack.samples import FORM_PATIENT
from intake.web.csrf import FIELD
from tests.integration.intake.test_self_referral_form import FORM, filled, token
from tests.support.forms import date_fields
from tests.support.kafka_reader import wait_for
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

CANCEL = "/self-referral/cancel"


async def cancel_token(intake: RunningIntake) -> str:
    page = await intake.client.get(CANCEL)
    assert page.status_code == 200
    assert "Cancel a request you sent" in page.text
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_her_request_is_cancelled_only_with_matching_details_and_the_page_says_the_same(
    intake: RunningIntake,
) -> None:
    sent = await intake.client.post(FORM, data=filled(await token(intake)))
    reference = sent.headers["Location"].rsplit("/", 1)[1]
    (form_event,) = await wait_for(
        intake.servers.kafka_bootstrap, intake.topic("referrals.self-referral"), lambda _r: True
    )
    referral_id = json.loads(form_event.value)["referral_id"]
    await intake.wait_events("referrals.received", referral_id)  # stored by intake

    async def cancel(**details: str) -> str:
        form = {
            FIELD: await cancel_token(intake),
            "tracking_reference": reference,
            **date_fields("date_of_birth", FORM_PATIENT["date_of_birth"]),
            "postcode": FORM_PATIENT["postcode"],
            **details,
        }
        answer = await intake.client.post(CANCEL, data=form)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        return re.sub(r'name="csrf_token" value="[^"]+"', "", answer.text)

    wrong = await cancel(**date_fields("date_of_birth", "1980-01-01"))
    assert await _status(intake, referral_id) == "received"
    right = await cancel(tracking_reference=reference.lower())
    assert right == wrong  # nothing tells whether a referral exists
    assert await _status(intake, referral_id) == "cancelled"
    assert await cancel() == wrong  # again: the same page, and no second step

    (event,) = await intake.wait_events("referrals.lifecycle", referral_id)
    assert (json.loads(event.value)["by"], json.loads(event.value)["transition"]) == (
        "patient",
        "cancelled",
    )
    assert identifiers_in(event.value.decode()) == []
    empty = await intake.client.post(CANCEL, data={FIELD: await cancel_token(intake)})
    assert empty.status_code == 422
    assert 'href="#tracking_reference">Enter your reference' in empty.text
    assert 'href="#date_of_birth-day">Enter your date of birth' in empty.text
    impossible = await intake.client.post(
        CANCEL,
        data={FIELD: await cancel_token(intake), "tracking_reference": reference,
              "date_of_birth-day": "31", "date_of_birth-month": "2", "date_of_birth-year": "1990",
              "postcode": FORM_PATIENT["postcode"]},
    )  # fmt: skip
    assert impossible.status_code == 422
    assert "Date of birth must be a real date" in impossible.text
    assert await _status(intake, referral_id) == "cancelled"


async def _status(intake: RunningIntake, referral_id: str) -> str:
    async with intake.service.database.pool.acquire() as conn:
        return str(
            await conn.fetchval(
                "SELECT status FROM referrals WHERE referral_id = $1::uuid", referral_id
            )
        )
