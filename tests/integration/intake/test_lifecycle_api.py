"""A referral's life through the real intake (PostgreSQL, Kafka): a clinic lists, accepts and
returns what was routed to it; the referrer cancels and amends; each step is refused where
the state machine says no, recorded, shown in the status, and announced once, without
identifiers, on `referrals.lifecycle`."""

from __future__ import annotations

import json
from typing import Any

from devstack.samples import gp_referral
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

SITE, OTHER_SITE = "pelvic-bsol", "pelvic-nw"


def bearer(key: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **more}


async def routed_referral(intake: RunningIntake, referrer: str) -> dict[str, Any]:
    answer = await intake.client.post("/v1/referrals", json=gp_referral(), headers=bearer(referrer))
    assert answer.status_code == 202
    referral: dict[str, Any] = answer.json()
    await intake.route(referral["referral_id"], SITE)
    return referral


async def lifecycle_events(intake: RunningIntake, referral_id: str, count: int) -> list[Any]:
    records = await intake.wait_events("referrals.lifecycle", referral_id, count=count)
    for record in records:
        assert identifiers_in(record.value.decode()) == []
    return [json.loads(r.value) for r in records]


async def test_a_clinic_lists_its_referrals_oldest_first_and_accepts_one_once(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    other = await intake.new_key(OTHER_SITE, scope="clinic")
    first = await routed_referral(intake, referrer)
    second = await routed_referral(intake, referrer)

    page = await intake.client.get("/v1/clinic/referrals?limit=1", headers=bearer(clinic))
    assert page.status_code == 200
    assert [r["referral_id"] for r in page.json()["referrals"]] == [first["referral_id"]]
    rest = await intake.client.get(
        "/v1/clinic/referrals", params={"limit": 1, "after": page.json()["next"]},
        headers=bearer(clinic),
    )  # fmt: skip
    assert [r["referral_id"] for r in rest.json()["referrals"]] == [second["referral_id"]]
    assert rest.json()["next"] is None
    nothing = await intake.client.get("/v1/clinic/referrals", headers=bearer(other))
    assert nothing.json()["referrals"] == []
    assert (
        await intake.client.get("/v1/clinic/referrals", headers=bearer(referrer))
    ).status_code == 403

    url = f"/v1/referrals/{first['referral_id']}/accept"
    assert (await intake.client.post(url, headers=bearer(other))).status_code == 404
    assert (await intake.client.post(url, headers=bearer(referrer))).status_code == 403
    accepted = await intake.client.post(url, headers=bearer(clinic))
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    again = await intake.client.post(url, headers=bearer(clinic))
    assert again.status_code == 409
    assert again.json()["current_state"] == "accepted"

    (event,) = await lifecycle_events(intake, first["referral_id"], 1)
    assert (event["transition"], event["site"], event["before"]) == ("accepted", SITE, "routed")
    status = await intake.client.get(first["status_url"], headers=bearer(referrer))
    assert status.json()["status"] == "accepted"
    assert [(h["action"], h["by"], h["by_id"]) for h in status.json()["history"]] == [
        ("decided", "router", "rules"),
        ("accepted", "clinic", SITE),
    ]
    accepted_list = await intake.client.get(
        "/v1/clinic/referrals", params={"state": "accepted"}, headers=bearer(clinic)
    )
    assert [r["referral_id"] for r in accepted_list.json()["referrals"]] == [first["referral_id"]]


async def test_a_return_goes_where_its_reason_code_says(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    url = f"/v1/referrals/{referral['referral_id']}/return"

    unknown = await intake.client.post(url, json={"reason_code": "bored"}, headers=bearer(clinic))
    assert unknown.status_code == 422
    assert "wrong-site" in unknown.json()["errors"][0]["message"]
    returned = await intake.client.post(
        url, json={"reason_code": "wrong-site"}, headers=bearer(clinic)
    )
    assert returned.json()["status"] == "needs-triage"
    (event,) = await lifecycle_events(intake, referral["referral_id"], 1)
    assert (event["transition"], event["to"], event["reason_code"]) == (
        "returned",
        "triage",
        "wrong-site",
    )
    # No longer the clinic's: it sees neither the referral nor its details.
    assert (
        await intake.client.get(referral["status_url"], headers=bearer(clinic))
    ).status_code == 404


async def test_the_referrer_cancels_once_under_an_idempotency_key(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    stranger = await intake.new_key("Y00001")
    referral = await routed_referral(intake, referrer)
    url = f"/v1/referrals/{referral['referral_id']}/cancel"
    body = {"reason_code": "sent-in-error"}

    assert (await intake.client.post(url, json=body, headers=bearer(stranger))).status_code == 404
    first = await intake.client.post(
        url, json=body, headers=bearer(referrer, **{"Idempotency-Key": "c-1"})
    )
    assert first.json()["status"] == "cancelled"
    again = await intake.client.post(
        url, json=body, headers=bearer(referrer, **{"Idempotency-Key": "c-1"})
    )
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await intake.client.post(
        url,
        json={"reason_code": "duplicate"},
        headers=bearer(referrer, **{"Idempotency-Key": "c-1"}),
    )
    assert other.status_code == 409
    plain = await intake.client.post(url, json=body, headers=bearer(referrer))
    assert (plain.status_code, plain.json()["current_state"]) == (409, "cancelled")

    (event,) = await lifecycle_events(intake, referral["referral_id"], 1)
    assert (event["transition"], event["by"], event["site"]) == ("cancelled", "referrer", SITE)
    assert await intake.count("transitions WHERE action = 'cancelled'") == 1


async def test_an_amendment_reroutes_only_when_a_routing_fact_changed(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed_referral(intake, referrer)
    url = f"/v1/referrals/{referral['referral_id']}"

    invalid = await intake.client.put(
        url, json=gp_referral(**{"patient.nhs_number": "123"}), headers=bearer(referrer)
    )
    assert invalid.status_code == 422
    same = await intake.client.put(
        url, json=gp_referral(**{"patient.mobile": "07700900999"}), headers=bearer(referrer)
    )
    assert (same.json()["status"], same.json()["rerouted"]) == ("routed", False)
    moved = await intake.client.put(
        url, json=gp_referral(**{"patient.postcode": "ZZ1 1AA"}), headers=bearer(referrer)
    )
    assert (moved.json()["status"], moved.json()["rerouted"]) == ("received", True)

    received = await intake.wait_events("referrals.received", referral["referral_id"], count=2)
    assert [json.loads(r.value)["postcode_district"] for r in received] == ["B1", "ZZ1"]
    events = await lifecycle_events(intake, referral["referral_id"], 2)
    assert [(e["transition"], e["reroute"]) for e in events] == [
        ("amended", False),
        ("amended", True),
    ]
    status = (await intake.client.get(url, headers=bearer(referrer))).json()
    assert [h["action"] for h in status["history"]] == ["decided", "amended", "amended"]
