"""POST/GET /v1/referrals against the real Kafka and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from devstack.samples import gp_referral
from shared.contracts import ReferralReceived
from tests.support.kafka_reader import body
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

RECEIVED = "referrals.received"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def submit(intake: RunningIntake, payload: Any, key: str, **headers: str) -> Any:
    return await intake.client.post(
        "/v1/referrals", json=payload, headers={**bearer(key), **headers}
    )


async def test_a_gp_referral_is_accepted_stored_and_handed_on_once(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    response = await submit(intake, gp_referral("M85001"), key)

    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "received"
    assert answer["tracking_reference"].startswith("WHR-")
    assert answer["status_url"] == f"/v1/referrals/{answer['referral_id']}"
    assert response.headers["Location"] == answer["status_url"]

    events = await intake.wait_events(RECEIVED, answer["referral_id"])
    assert len(events) == 1
    event = ReferralReceived.model_validate(body(events[0]))
    assert event.tracking_reference == answer["tracking_reference"]
    assert (event.service, event.referrer_role, event.referrer_organisation_code) == (
        "pelvic-health",
        "gp",
        "M85001",
    )
    assert event.postcode_district == "B1"
    assert event.age_years == 34
    assert identifiers_in(events[0].value.decode()) == []  # type: ignore[union-attr]
    assert dict(events[0].headers)["event-type"] == b"ReferralReceived"

    status = await intake.client.get(answer["status_url"], headers=bearer(key))
    assert status.status_code == 200
    assert status.json()["status"] == "received"
    assert status.json()["decision"] is None


async def test_status_is_visible_only_to_the_organisation_that_referred(
    intake: RunningIntake,
) -> None:
    own, other = await intake.new_key("M85001"), await intake.new_key("Y02345")
    answer = (await submit(intake, gp_referral("M85001"), own)).json()

    theirs = await intake.client.get(answer["status_url"], headers=bearer(other))
    assert theirs.status_code == 404
    assert "tracking_reference" not in theirs.text


async def test_a_key_may_only_submit_for_its_own_organisation(intake: RunningIntake) -> None:
    key = await intake.new_key("Y02345")
    response = await submit(intake, gp_referral("M85001"), key)
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "referrer.organisation_code"
    assert await intake.count("referrals") == 0
    assert await intake.count("outbox") == 0


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Basic abc"])
async def test_requests_without_a_valid_key_are_refused(
    intake: RunningIntake, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await intake.client.post("/v1/referrals", json=gp_referral(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await intake.count("referrals") == 0


async def test_a_revoked_key_is_refused(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    await intake.revoke_all()
    assert (await submit(intake, gp_referral(), key)).status_code == 401


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key("M85001")
    first = await submit(intake, gp_referral(), key, **{"Idempotency-Key": "emis-123"})
    again = await submit(intake, gp_referral(), key, **{"Idempotency-Key": "emis-123"})

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await intake.count("referrals") == 1
    events = await intake.wait_events(RECEIVED, first.json()["referral_id"])
    assert len(events) == 1
    assert len(await intake.events(RECEIVED)) == 1


async def test_the_same_idempotency_key_with_another_body_is_a_conflict(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key("M85001")
    await submit(intake, gp_referral(), key, **{"Idempotency-Key": "emis-124"})
    changed = gp_referral(**{"clinical.reason": "Something else."})
    response = await submit(intake, changed, key, **{"Idempotency-Key": "emis-124"})
    assert response.status_code == 409
    assert await intake.count("referrals") == 1


async def test_an_idempotency_key_belongs_to_one_organisation(intake: RunningIntake) -> None:
    a, b = await intake.new_key("M85001"), await intake.new_key("Y02345")
    await submit(intake, gp_referral("M85001"), a, **{"Idempotency-Key": "shared-1"})
    response = await submit(intake, gp_referral("Y02345"), b, **{"Idempotency-Key": "shared-1"})
    assert response.status_code == 202
    assert await intake.count("referrals") == 2


async def test_a_body_over_the_limit_is_413_and_nothing_is_stored(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    huge = gp_referral(**{"clinical.reason": "x" * (intake.settings.max_body_bytes + 1)})
    response = await submit(intake, huge, key)
    assert response.status_code == 413
    assert await intake.count("referrals") == 0


# Each validation rule of the contract, and the field the error must name.
INVALID = [
    ({"patient.nhs_number": "9434765918"}, "patient.nhs_number"),  # modulus 11
    ({"patient.nhs_number": ...}, "patient.nhs_number"),  # required for a professional
    ({"patient.postcode": "NOT A POSTCODE"}, "patient.postcode"),
    ({"patient.date_of_birth": "2999-01-01"}, "patient.date_of_birth"),
    ({"clinical.delivery_date": "1980-01-01"}, "clinical.delivery_date"),  # before birth
    ({"clinical.delivery_date": None}, "clinical.delivery_date"),  # postnatal needs it
    ({"clinical.expected_delivery_date": "2027-01-01"}, "clinical.expected_delivery_date"),
    ({"referrer.role": "surgeon"}, "referrer.role"),
    ({"service": "cosmetic-surgery"}, "service"),
    ({"referrer.name": ...}, "referrer.name"),
    ({"patient.mobile": "01234 567890"}, "patient.mobile"),
    ({"patient.email": "not-an-email"}, "patient.email"),
    (
        {"patient.contact_preferences": ["letter", "carrier-pigeon"]},
        "patient.contact_preferences.1",
    ),
    ({"clinical.reason": ""}, "clinical.reason"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID)
async def test_each_invalid_field_is_named_and_nothing_is_stored(
    intake: RunningIntake, changes: dict[str, Any], field: str
) -> None:
    key = await intake.new_key("M85001")
    response = await submit(intake, gp_referral(**changes), key)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors]
    assert all(e["message"] for e in errors)
    assert identifiers_in(json.dumps(errors)) == []
    assert await intake.count("referrals") == 0
    assert await intake.count("outbox") == 0


async def test_every_failing_field_is_reported_at_once(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    payload = gp_referral(
        **{"patient.postcode": "nope", "patient.nhs_number": "123", "service": "x"}
    )
    fields = {e["field"] for e in (await submit(intake, payload, key)).json()["errors"]}
    assert {"patient.postcode", "patient.nhs_number", "service"} <= fields


async def test_malformed_json_is_a_422(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    response = await intake.client.post(
        "/v1/referrals",
        content=b"{not json",
        headers={**bearer(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert await intake.count("referrals") == 0


async def test_only_the_notifier_key_reads_patient_contacts(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    notifier = await intake.new_key("NOTIFIER", scope="notifier")
    answer = (await submit(intake, gp_referral(), referrer)).json()
    nobody = str(uuid.uuid4())
    lookup = {"referral_ids": [answer["referral_id"], nobody]}

    refused = await intake.client.post(
        "/v1/referrals/contacts", json=lookup, headers=bearer(referrer)
    )
    assert refused.status_code == 403
    found = await intake.client.post(
        "/v1/referrals/contacts", json=lookup, headers=bearer(notifier)
    )
    assert found.status_code == 200
    assert found.json() == {
        "contacts": {
            answer["referral_id"]: {
                "given_name": "Jane",
                "email": "jane.doeberry@example.com",
                "mobile": "07700900123",
                "address": None,
                "contact_preferences": ["sms", "email"],
                "message_detail": "discreet",
                "referrer_role": "gp",
                "referrer_email": "referrals@example-practice.nhs.uk",
                "referrer_endpoint": None,  # not a BaRS referral
                "status": "received",
            }
        },
        "unknown": [nobody],
    }
    too_many = {"referral_ids": [nobody] * 501}
    response = await intake.client.post(
        "/v1/referrals/contacts", json=too_many, headers=bearer(notifier)
    )
    assert response.status_code == 422


async def test_a_contact_with_an_address_gives_a_letters_address_block(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    notifier = await intake.new_key("NOTIFIER", scope="notifier")
    changes = {
        "patient.address": {"lines": ["1 Canal Walk", "Birmingham"]},
        "patient.contact_preferences": ["letter"],
        "patient.message_detail": "full",
        "patient.email": None,
    }
    answer = (await submit(intake, gp_referral(**changes), referrer)).json()
    found = await intake.client.post(
        "/v1/referrals/contacts",
        json={"referral_ids": [answer["referral_id"]]},
        headers=bearer(notifier),
    )
    contact = found.json()["contacts"][answer["referral_id"]]
    assert contact["address"] == ["Jane Doeberry", "1 Canal Walk", "Birmingham", "B1 1AA"]
    assert (contact["contact_preferences"], contact["message_detail"]) == (["letter"], "full")
    assert (contact["email"], contact["mobile"]) == (None, "07700900123")


async def test_a_clinic_sees_only_the_referrals_routed_to_it(intake: RunningIntake) -> None:
    referrer = await intake.new_key("M85001")
    bsol, other = (
        await intake.new_key("pelvic-bsol", scope="clinic"),
        await intake.new_key("pelvic-nw", scope="clinic"),
    )
    answer = (await submit(intake, gp_referral(), referrer)).json()
    url = answer["status_url"]
    assert (await intake.client.get(url, headers=bearer(bsol))).status_code == 404  # not routed
    await intake.route(answer["referral_id"], "pelvic-bsol")
    seen = await intake.client.get(url, headers=bearer(bsol))
    assert seen.status_code == 200
    assert seen.json()["submission"]["patient"]["nhs_number"] == "9434765919"
    assert (await intake.client.get(url, headers=bearer(other))).status_code == 404
    as_referrer = (await intake.client.get(url, headers=bearer(referrer))).json()
    assert as_referrer["submission"] is None


async def test_openapi_documents_the_submission_and_the_key(intake: RunningIntake) -> None:
    spec = (await intake.client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/referrals"]["post"]
    named = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][named.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"service", "referrer", "patient", "clinical"}
    assert {"202", "401", "403", "409", "413", "422"} <= set(post["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_prometheus_metrics_count_accepted_referrals(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    assert (await intake.client.get("/metrics")).status_code == 200  # as scrapers ask
    before = _sample(
        (await intake.client.get("/metrics/")).text,
        "referrals_accepted_total",
        door="api",
        service="pelvic-health",
    )
    assert (await submit(intake, gp_referral(), key)).status_code == 202
    text = (await intake.client.get("/metrics/")).text
    after = _sample(text, "referrals_accepted_total", door="api", service="pelvic-health")
    assert after == before + 1
    assert "faststream_received_messages_total" in text or "faststream_published" in text


async def test_a_tracking_reference_already_in_use_is_drawn_again(
    intake: RunningIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intake draws the reference; one that collides with a stored referral (rare, 9 random
    symbols) is drawn again, not answered 500."""
    from intake.domain import referral as domain

    key = await intake.new_key("M85001")
    first = (await submit(intake, gp_referral("M85001"), key)).json()
    draws = iter([first["tracking_reference"]])
    fresh = domain.new_tracking_reference
    monkeypatch.setattr(domain, "new_tracking_reference", lambda: next(draws, None) or fresh())

    response = await submit(intake, gp_referral("M85001"), key, **{"Idempotency-Key": "k-1"})

    assert response.status_code == 202
    second = response.json()
    assert second["tracking_reference"] not in (None, first["tracking_reference"])
    assert await intake.count("referrals") == 2
    assert await intake.count("outbox") == 2
    again = await submit(intake, gp_referral("M85001"), key, **{"Idempotency-Key": "k-1"})
    assert again.json()["tracking_reference"] == second["tracking_reference"]
