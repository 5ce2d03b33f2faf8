"""She checks where her referral stands on the self-referral pages (any referral about her,
whoever made it): her reference, date of birth and postcode; details that do not match get
the same kind answer as a reference that does not exist; what she sees follows her referral
through its journey, and names nothing she has not proved."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.samples import GP_PATIENT
from intake.web.csrf import FIELD
from shared.directory import load_directory
from tests.integration.intake.test_lifecycle_api import SITE, bearer, routed_referral
from tests.support.forms import date_fields
from tests.support.running import RunningIntake

CHECK = "/self-referral/check"
JOURNEY = load_directory().journey


async def check(intake: RunningIntake, **details: str) -> str:
    page = await intake.client.get(CHECK)
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found is not None
    form: dict[str, Any] = {
        FIELD: found.group(1),
        **date_fields("date_of_birth", GP_PATIENT["date_of_birth"]),
        "postcode": GP_PATIENT["postcode"],
        **details,
    }
    answer = await intake.client.post(CHECK, data=form)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    return re.sub(r'name="csrf_token" value="[^"]+"', "", answer.text)


async def test_she_sees_where_her_referral_stands_only_with_her_details(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    reference = referral["tracking_reference"]

    wrong_birth = await check(
        intake, tracking_reference=reference, **date_fields("date_of_birth", "1980-01-01")
    )
    wrong_postcode = await check(intake, tracking_reference=reference, postcode="ZZ9 9ZZ")
    nobody = await check(intake, tracking_reference="WHR-0000-00000")
    assert "We could not find a referral with those details" in wrong_birth
    assert wrong_birth == wrong_postcode == nobody  # nothing tells whether it exists
    assert reference not in wrong_birth

    routed = await check(intake, tracking_reference=reference.lower())
    assert "Your referral has been sent to" in routed
    assert f"within about {JOURNEY.expected_wait.weeks} weeks" in routed
    assert "Cancel this request" not in routed  # her GP's referral: the GP cancels it
    assert GP_PATIENT["family_name"] not in routed  # she proved it; it still names no more

    base = f"/v1/referrals/{referral['referral_id']}"
    await intake.client.post(f"{base}/accept", headers=bearer(clinic))
    starts = datetime.now(UTC).replace(hour=11, minute=0, second=0, microsecond=0)
    starts += timedelta(days=12)
    appointment = {"starts_at": starts.isoformat(), "mode": "telephone", "place": "We will call"}
    booked = await intake.client.post(
        f"{base}/book", json={"appointment": appointment}, headers=bearer(clinic)
    )
    assert booked.status_code == 200
    shown = await check(intake, tracking_reference=reference)
    assert "Your appointment" in shown
    assert "By telephone" in shown
    assert "We will call" in shown
    assert JOURNEY.contact in shown  # how to change it
    assert "How long you may wait" not in shown  # she has her date

    await intake.client.post(f"{base}/attended", headers=bearer(clinic))
    await intake.client.post(
        f"{base}/discharge", json={"outcome_code": "treated"}, headers=bearer(clinic)
    )
    done = await check(intake, tracking_reference=reference)
    assert "Your care with" in done
    assert "is complete" in done


async def test_a_form_without_her_details_names_each_field_to_correct(
    intake: RunningIntake,
) -> None:
    page = await intake.client.get(CHECK)
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found is not None
    answer = await intake.client.post(
        CHECK, data={FIELD: found.group(1), "date_of_birth-day": "40", "postcode": ""}
    )
    assert answer.status_code == 422
    assert answer.text.count('<li><a href="#') == 3
    assert 'href="#date_of_birth-day">Date of birth must be a real date' in answer.text
    assert 'value="40"' in answer.text  # what she typed is kept
