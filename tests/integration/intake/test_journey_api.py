"""The whole journey through the real intake (PostgreSQL, Kafka): a clinic system books her,
changes the booking, records a missed appointment, books again, records that she came and
discharges her with an outcome; another referral ends not contactable. Each step refused
where the state machine says no (409 and where it stands), recorded with who, when and its
particulars, shown with the actions allowed now, and announced once, without identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.samples import gp_referral
from shared.clock import LONDON
from tests.integration.intake.test_lifecycle_api import (
    SITE,
    bearer,
    lifecycle_events,
    routed_referral,
)
from tests.support.running import RunningIntake


def appointment(days: int, mode: str = "in-person") -> dict[str, Any]:
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return {"starts_at": starts.isoformat(), "mode": mode, "place": "Room 4, Solihull Hospital"}


async def test_a_referral_goes_from_acceptance_to_discharge_and_the_referrer_sees_each_step(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    base = f"/v1/referrals/{referral['referral_id']}"

    async def step(action: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        answer = await intake.client.post(f"{base}/{action}", json=body, headers=bearer(clinic))
        assert answer.status_code == status, answer.text
        return answer.json()

    async def seen(key: str) -> dict[str, Any]:
        answer = await intake.client.get(base, headers=bearer(key))
        assert answer.status_code == 200
        shown: dict[str, Any] = answer.json()
        return shown

    assert (await seen(clinic))["actions"] == ["accept", "return"]
    refused = await step("book", {"appointment": appointment(7)}, status=409)
    assert refused["current_state"] == "routed"
    await step("accept")
    assert (await seen(clinic))["actions"] == ["book", "not-contactable"]
    assert (await seen(referrer))["actions"] == ["cancel", "amend"]

    missing = await step("book", {"appointment": {"mode": "video"}}, status=422)
    assert {e["field"] for e in missing["errors"]} == {
        "appointment.starts_at",
        "appointment.place",
    }
    assert (await step("book", {"appointment": appointment(7)}))["status"] == "booked"
    changed = appointment(9, "telephone")
    assert (await step("book", {"appointment": changed}))["status"] == "booked"
    shown = await seen(referrer)
    assert shown["appointment"]["mode"] == "telephone"
    assert datetime.fromisoformat(shown["appointment"]["starts_at"]) == datetime.fromisoformat(
        changed["starts_at"]
    )
    assert (await seen(clinic))["actions"] == [
        "book", "cancel-appointment", "attended", "did-not-attend", "not-contactable"
    ]  # fmt: skip

    assert (await step("did-not-attend"))["status"] == "did-not-attend"
    assert (await step("attended", status=409))["current_state"] == "did-not-attend"
    await step("book", {"appointment": appointment(21)})  # the service's policy offers another
    await step("attended")
    unnamed = await step("discharge", {"outcome_code": "referred-on"}, status=422)
    assert unnamed["errors"][0]["field"] == "referred_to"
    unknown = await step("discharge", {"outcome_code": "cured-by-magic"}, status=422)
    assert "treated" in unknown["errors"][0]["message"]
    done = await step(
        "discharge", {"outcome_code": "referred-on", "referred_to": "Urogynaecology, QEH"}
    )
    assert done["status"] == "discharged"
    assert (await step("discharge", {"outcome_code": "treated"}, status=409))[
        "current_state"
    ] == "discharged"

    final = await seen(referrer)
    assert final["actions"] == []
    assert [(h["action"], h["before"], h["after"]) for h in final["history"]] == [
        ("decided", "received", "routed"),
        ("accepted", "routed", "accepted"),
        ("booked", "accepted", "booked"),
        ("booked", "booked", "booked"),
        ("did-not-attend", "booked", "did-not-attend"),
        ("booked", "did-not-attend", "booked"),
        ("attended", "booked", "attended"),
        ("discharged", "attended", "discharged"),
    ]
    assert {h["by_id"] for h in final["history"][1:]} == {SITE}
    assert final["history"][-1]["reason_code"] == "referred-on"
    assert final["history"][-1]["details"] == {"referred_to": "Urogynaecology, QEH"}
    assert (await seen(clinic))["status"] == "discharged"  # the clinic still sees its own

    events = await lifecycle_events(intake, referral["referral_id"], 7)
    assert [e["transition"] for e in events] == [
        "accepted", "booked", "booked", "did-not-attend", "booked", "attended", "discharged",
    ]  # fmt: skip
    assert events[3]["may_rebook"] is True
    assert events[-1]["outcome_code"] == "referred-on"
    assert await intake.count("transitions WHERE action = 'booked'") == 3


async def test_a_woman_the_clinic_cannot_reach_goes_back_to_the_referrer(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(SITE, scope="clinic")
    referral = await routed_referral(intake, referrer)
    base = f"/v1/referrals/{referral['referral_id']}"
    await intake.client.post(f"{base}/accept", headers=bearer(clinic))
    empty = await intake.client.post(
        f"{base}/not-contactable", json={"attempts": []}, headers=bearer(clinic)
    )
    assert empty.status_code == 422
    tried = [(datetime.now(UTC) - timedelta(days=d)).isoformat() for d in (5, 3, 1)]
    answer = await intake.client.post(
        f"{base}/not-contactable", json={"attempts": tried}, headers=bearer(clinic)
    )
    assert answer.json()["status"] == "not-contactable"
    shown = (await intake.client.get(base, headers=bearer(referrer))).json()
    assert shown["history"][-1]["details"]["attempts"] == [
        datetime.fromisoformat(t).isoformat() for t in tried
    ]
    assert shown["actions"] == []
    (_, event) = await lifecycle_events(intake, referral["referral_id"], 2)
    assert (event["transition"], len(event["attempts"])) == ("not-contactable", 3)
    cancelled = await intake.client.post(
        f"{base}/cancel", json={"reason_code": "no-longer-needed"}, headers=bearer(referrer)
    )
    assert (cancelled.status_code, cancelled.json()["current_state"]) == (409, "not-contactable")


async def test_the_referrer_lists_its_referrals_by_state_and_day_and_sees_no_one_elses(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    other = await intake.new_key("Y00001")
    clinic = await intake.new_key(SITE, scope="clinic")
    first = await routed_referral(intake, referrer)
    second = await routed_referral(intake, referrer)
    theirs = await intake.client.post(
        "/v1/referrals", json=gp_referral("Y00001"), headers=bearer(other)
    )
    assert theirs.status_code == 202
    await intake.client.post(
        f"/v1/referrals/{second['referral_id']}/accept", headers=bearer(clinic)
    )

    async def listed(**query: Any) -> list[str]:
        answer = await intake.client.get(
            "/v1/referrer/referrals", params=query, headers=bearer(referrer)
        )
        assert answer.status_code == 200, answer.text
        return [r["referral_id"] for r in answer.json()["referrals"]]

    assert await listed() == [first["referral_id"], second["referral_id"]]
    assert await listed(state="accepted") == [second["referral_id"]]
    today = datetime.now(LONDON).date()
    assert len(await listed(received_from=today.isoformat(), received_to=today.isoformat())) == 2
    assert await listed(received_to=(today - timedelta(days=1)).isoformat()) == []
    assert await listed(received_from=(today + timedelta(days=1)).isoformat()) == []
    page = await intake.client.get(
        "/v1/referrer/referrals", params={"limit": 1}, headers=bearer(referrer)
    )
    assert await listed(limit=1, after=page.json()["next"]) == [second["referral_id"]]
    refused = await intake.client.get("/v1/referrer/referrals", headers=bearer(clinic))
    assert refused.status_code == 403
    bad = await intake.client.get(
        "/v1/referrer/referrals", params={"state": "lost"}, headers=bearer(referrer)
    )
    assert bad.status_code == 422
