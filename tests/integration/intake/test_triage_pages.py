"""The triage team's pages through the real intake and the real identity provider: a person
with the triage role signs in as herself (a clinician is refused, and the triage role opens
no clinic), sees what the rules could not decide, urgent first, one referral in full, and
sends a decision that reaches the router's topic once, naming no patient and her only by her
pseudonymous id; a referral not awaiting triage cannot be resolved from here."""

from __future__ import annotations

import json
import re

from devstack.samples import GP_PATIENT, gp_referral
from intake.web.csrf import FIELD
from tests.support import staff
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

SITE = "pelvic-bsol"


def csrf(page: str) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def referred(intake: RunningIntake, referrer: str) -> dict[str, str]:
    answer = await intake.client.post(
        "/v1/referrals", json=gp_referral(), headers={"Authorization": f"Bearer {referrer}"}
    )
    assert answer.status_code == 202
    referral: dict[str, str] = answer.json()
    return referral


async def test_the_triage_team_decides_what_the_rules_could_not(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    waiting = await referred(intake, referrer)
    await intake.route(waiting["referral_id"], None)
    urgent = await referred(intake, referrer)
    await intake.route(urgent["referral_id"], None, urgent=True)
    routed = await referred(intake, referrer)
    await intake.route(routed["referral_id"], SITE)

    assert (await intake.client.get("/triage")).status_code == 401
    await staff.sign_in(intake.client, "clin.bsol", "/triage")
    assert (await intake.client.get("/triage")).status_code == 403  # a clinician is not triage
    signed = await staff.sign_in(intake.client, "triage.lead", "/triage")
    assert signed.status_code == 303
    assert (await intake.client.get("/clinic")).status_code == 403  # nor triage a clinician

    listed = (await intake.client.get("/triage")).text
    assert listed.index(urgent["tracking_reference"]) < listed.index(waiting["tracking_reference"])
    assert routed["tracking_reference"] not in listed
    page = await intake.client.get(f"/triage/referrals/{waiting['referral_id']}")
    assert GP_PATIENT["family_name"] in page.text  # the team sees it in full
    assert "Birmingham and Solihull" in page.text  # the service's sites to choose from
    other = await intake.client.get(f"/triage/referrals/{routed['referral_id']}")
    assert other.status_code == 404  # not awaiting triage: not the team's to see

    url = f"/triage/referrals/{waiting['referral_id']}/resolve"
    token = csrf(page.text)
    nothing = await intake.client.post(url, data={FIELD: token, "reason": "x"})
    assert nothing.status_code == 422
    assert 'href="#route_to">Choose a site' in nothing.text
    no_reason = await intake.client.post(url, data={FIELD: token, "route_to": SITE})
    assert no_reason.status_code == 422
    assert 'href="#reason">Enter why' in no_reason.text
    forged = await intake.client.post(url, data={FIELD: "forged", "route_to": SITE})
    assert forged.status_code == 403
    sent = await intake.client.post(
        url,
        data={FIELD: token, "route_to": SITE, "reason": "Lives in Solihull; postcode typo."},
    )
    assert sent.status_code == 303
    assert "Decision sent" in (await intake.client.get(sent.headers["location"])).text

    (record,) = await intake.wait_events("referrals.triage-resolved", waiting["referral_id"])
    assert identifiers_in(record.value.decode()) == []
    event = json.loads(record.value)
    assert event["route_to"] == SITE
    assert event["decided_by"]
    assert "Hannah" not in record.value.decode()  # her pseudonymous id, not her name
    assert event["reason"] == "Lives in Solihull; postcode typo."

    resolve_routed = await intake.client.post(
        f"/triage/referrals/{routed['referral_id']}/resolve",
        data={FIELD: token, "route_to": SITE, "reason": "x"},
    )
    assert resolve_routed.status_code == 404
    assert "Not awaiting triage" in resolve_routed.text
