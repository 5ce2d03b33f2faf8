"""The clinic's worklist pages through the real intake and the real identity provider: a
clinician signs in as herself (OpenID Connect, the local Keycloak) for a session cookie
(HttpOnly, SameSite=Strict), sees only her site's referrals, accepts or returns with a CSRF
token, and the history names her; signing out ends the session; the clinic's API key opens
no page; the same rules as the API."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import httpx

from devstack.samples import GP_PATIENT, gp_referral
from intake.web.csrf import FIELD
from shared.clock import LONDON
from tests.support import staff
from tests.support.running import RunningIntake

SITE = "pelvic-bsol"


def csrf(page: str) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def routed(intake: RunningIntake, referrer: str) -> dict[str, str]:
    answer = await intake.client.post(
        "/v1/referrals", json=gp_referral(), headers={"Authorization": f"Bearer {referrer}"}
    )
    referral: dict[str, str] = answer.json()
    await intake.route(referral["referral_id"], SITE)
    return referral


async def sign_in(intake: RunningIntake, username: str = "clin.bsol") -> None:
    page = await intake.client.get("/clinic")
    assert page.status_code == 401
    assert "Sign in to the clinic" in page.text
    answer = await staff.sign_in(intake.client, username)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/clinic"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_a_clinic_signs_in_sees_its_referrals_and_accepts_one(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    first, second = await routed(intake, referrer), await routed(intake, referrer)
    with_key = await intake.client.get("/clinic", headers={"Authorization": f"Bearer {clinic}"})
    assert with_key.status_code == 401  # a clinic system's key opens no page people use

    await sign_in(intake)
    worklist = await intake.client.get("/clinic")
    assert worklist.text.index(first["tracking_reference"]) < worklist.text.index(
        second["tracking_reference"]
    )  # oldest first
    details = await intake.client.get(f"/clinic/referrals/{first['referral_id']}")
    assert GP_PATIENT["nhs_number"] in details.text  # what she needs to book her
    forged = await intake.client.post(
        f"/clinic/referrals/{first['referral_id']}/accept", data={FIELD: "forged"}
    )
    assert forged.status_code == 403
    accepted = await intake.client.post(
        f"/clinic/referrals/{first['referral_id']}/accept", data={FIELD: csrf(details.text)}
    )
    assert accepted.status_code == 303
    assert "Referral accepted" in (await intake.client.get(accepted.headers["location"])).text
    again = await intake.client.post(
        f"/clinic/referrals/{first['referral_id']}/accept", data={FIELD: csrf(details.text)}
    )
    assert again.status_code == 409
    assert "now accepted" in again.text

    no_reason = await intake.client.post(
        f"/clinic/referrals/{second['referral_id']}/return", data={FIELD: csrf(details.text)}
    )
    assert no_reason.status_code == 422
    assert 'href="#reason_code">Choose a reason' in no_reason.text
    returned = await intake.client.post(
        f"/clinic/referrals/{second['referral_id']}/return",
        data={FIELD: csrf(details.text), "reason_code": "wrong-site"},
    )
    assert returned.status_code == 303
    assert (
        await intake.client.get(f"/clinic/referrals/{second['referral_id']}")
    ).status_code == 404
    accepted_tab = await intake.client.get("/clinic?state=accepted")
    assert first["tracking_reference"] in accepted_tab.text
    history = (await intake.client.get(f"/clinic/referrals/{first['referral_id']}")).text
    assert "accepted by Priya Anand, clinic (pelvic-bsol)" in history  # she is named
    (event,) = [e for e in await intake.events("referrals.lifecycle") if b"accepted" in e.value]
    by_person = json.loads(event.value)["by_person"]
    assert by_person
    assert "Priya" not in event.value.decode()  # pseudonymous on the topic


async def test_another_sites_clinician_sees_nothing_and_signing_out_ends_the_session(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed(intake, referrer)
    await sign_in(intake, "clin.kent")
    assert referral["tracking_reference"] not in (await intake.client.get("/clinic")).text
    by_id = await intake.client.get(f"/clinic/referrals/{referral['referral_id']}")
    assert by_id.status_code == 404  # another site's referral, reached by its id
    page = await intake.client.get("/clinic")
    kept = intake.client.cookies.get("whr_staff")
    out = await intake.client.post("/clinic/sign-out", data={FIELD: csrf(page.text)})
    assert out.status_code == 303
    assert "/protocol/openid-connect/logout" in out.headers["location"]  # the provider's too
    assert "id_token_hint=" in out.headers["location"]
    intake.client.cookies.set("whr_staff", str(kept))  # the old cookie, kept and sent again
    assert (await intake.client.get("/clinic")).status_code == 401


async def test_a_person_without_a_clinicians_role_is_refused_plainly(
    intake: RunningIntake,
) -> None:
    await staff.sign_in(intake.client, "triage.lead")
    refused = await intake.client.get("/clinic")
    assert refused.status_code == 403
    assert "You cannot use this page" in refused.text
    assert "Hannah Moss" in refused.text


async def test_a_clinician_takes_her_from_booking_to_discharge_on_the_pages(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed(intake, referrer)
    await sign_in(intake)
    url = f"/clinic/referrals/{referral['referral_id']}"
    token = csrf((await intake.client.get(url)).text)

    async def post(action: str, **fields: str) -> httpx.Response:
        return await intake.client.post(f"{url}/{action}", data={FIELD: token, **fields})

    assert (await post("accept")).status_code == 303
    page = (await intake.client.get(url)).text
    assert "Book an appointment" in page
    assert "She came" not in page  # only the actions allowed now are offered
    day = datetime.now(LONDON).date() + timedelta(days=10)
    when = {"appointment-day": str(day.day), "appointment-month": str(day.month),
            "appointment-year": str(day.year)}  # fmt: skip
    no_time = await post("book", **when, mode="in-person", place="Room 4")
    assert no_time.status_code == 422
    assert 'href="#appointment-time">Enter the time' in no_time.text
    assert 'value="Room 4"' in no_time.text  # what she typed is kept
    booked = await post("book", **when, **{"appointment-time": "14:30"}, mode="video",
                        place="We will send you a link")  # fmt: skip
    assert booked.status_code == 303
    assert "Appointment booked" in (await intake.client.get(booked.headers["location"])).text
    assert referral["tracking_reference"] in (await intake.client.get("/clinic?state=booked")).text
    page = (await intake.client.get(url)).text
    assert f"{day:%A} {day.day} {day:%B %Y} at 14:30" in page
    assert "By video call" in page

    assert (await post("did-not-attend")).status_code == 303
    assert (await post("book", **when, **{"appointment-time": "09:00"}, mode="telephone",
                       place="We will phone you")).status_code == 303  # fmt: skip
    assert (await post("attended")).status_code == 303
    assert (await post("attended")).status_code == 409
    unnamed = await post("discharge", outcome_code="referred-on")
    assert unnamed.status_code == 422
    assert "Enter the service she was referred on to" in unnamed.text
    done = await post("discharge", outcome_code="advice-and-self-management")
    assert done.status_code == 303
    status = await intake.client.get(
        f"/v1/referrals/{referral['referral_id']}", headers={"Authorization": f"Bearer {referrer}"}
    )
    assert status.json()["status"] == "discharged"
    assert [h["action"] for h in status.json()["history"]][-5:] == [
        "booked", "did-not-attend", "booked", "attended", "discharged"
    ]  # fmt: skip


async def test_urgent_referrals_come_first_on_the_worklist(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    plain = await routed(intake, referrer)
    answer = await intake.client.post(
        "/v1/referrals", json=gp_referral(), headers={"Authorization": f"Bearer {referrer}"}
    )
    urgent = answer.json()
    await intake.route(urgent["referral_id"], SITE, urgent=True)
    await sign_in(intake)
    worklist = (await intake.client.get("/clinic")).text
    assert worklist.index(urgent["tracking_reference"]) < worklist.index(
        plain["tracking_reference"]
    )
