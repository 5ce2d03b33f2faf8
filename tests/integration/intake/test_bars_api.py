"""BaRS at the real intake (PostgreSQL, Kafka): each committed sample message, with another
patient and new ids put into it, is taken as one referral and handed on; a repeat gets the
first answer, another message under the same id a REC_CONFLICT; refusals are OperationOutcomes
with nothing stored; a revoke cancels an active referral and is refused for a finished one;
no patient identifier reaches a topic or a log line."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest

from devstack.bars_examples import EXAMPLE_REFERRALS, EXAMPLES
from devstack.samples import gp_referral
from intake.adapters import bars_endpoints
from shared.clock import today
from tests.support.bars import fresh
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake

ORG = "G82080"  # the referring surgery in the samples
FHIR = "application/fhir+json"


def headers(key: str, **more: str) -> dict[str, str]:
    """A BaRS sender's headers: its key, the media type, and the two ids BaRS requires."""
    given = {
        "Authorization": f"Bearer {key}",
        "Content-Type": FHIR,
        "X-Request-ID": str(uuid4()),
        "X-Correlation-ID": str(uuid4()),
    }
    named = {name.lower() for name in more}  # header names are case-insensitive
    return {**{k: v for k, v in given.items() if k.lower() not in named}, **more}


async def post(intake: RunningIntake, bundle: Any, key: str, **more: str) -> Any:
    body = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    return await intake.client.post(
        "/FHIR/R4/$process-message", content=body, headers=headers(key, **more)
    )


def outcome_codes(answer: Any) -> list[tuple[str, str | None]]:
    assert answer.headers["content-type"] == FHIR
    outcome = OperationOutcome.model_validate(answer.json())
    return [
        (issue.details.coding[0].code, (issue.expression or [None])[0])  # type: ignore[union-attr,index]
        for issue in outcome.issue
    ]


@pytest.mark.parametrize("service", [e.service for e in EXAMPLE_REFERRALS])
async def test_each_sample_with_another_patient_is_taken_as_one_referral(
    intake: RunningIntake, service: str, capfd: pytest.CaptureFixture[str]
) -> None:
    key = await intake.new_key(ORG)
    bundle = fresh(service)
    request_id, correlation = str(uuid4()), f"bars-{uuid4()}"
    answer = await post(
        intake, bundle, key, **{"X-Request-Id": request_id, "X-Correlation-Id": correlation}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-Id"] == request_id
    assert answer.headers["X-Correlation-Id"] == correlation
    ack = Bundle.model_validate(answer.json())
    header, request = (e.resource for e in ack.entry)  # type: ignore[union-attr]
    assert header.response.code == "ok"  # type: ignore[attr-defined]
    assert header.response.identifier == bundle["entry"][0]["resource"]["id"]  # type: ignore[attr-defined]
    referral_id = request.id  # type: ignore[attr-defined]

    status = await intake.client.get(f"/FHIR/R4/ServiceRequest/{referral_id}", headers=headers(key))
    shown = ServiceRequest.model_validate(status.json())
    assert (shown.status, shown.extension[0].valueCode) == ("active", "received")  # type: ignore[index]
    assert shown.code.coding[0].code == service  # type: ignore[union-attr,index]

    (received,) = await intake.wait_events("referrals.received", referral_id)
    event = json.loads(received.value)
    assert (event["correlation_id"], event["service"]) == (correlation, service)
    assert identifiers_in(received.value.decode()) == []
    assert await intake.count("referrals") == 1
    logged = capfd.readouterr()
    assert identifiers_in(logged.out + logged.err) == []


UNDATED = [
    e.service for e in EXAMPLE_REFERRALS if e.due_in_days is None and e.delivered_days_ago is None
]


@pytest.mark.parametrize("service", UNDATED)
async def test_each_undated_sample_is_taken_exactly_as_committed(
    intake: RunningIntake, service: str
) -> None:
    """As docs/using.md's curl sends it: the file itself (samples with pregnancy dates are
    taken as of their own date in the unit tests, and moved to today above)."""
    key = await intake.new_key(ORG)
    answer = await post(intake, (EXAMPLES / f"{service}.json").read_bytes(), key)
    assert answer.status_code == 200, answer.text
    assert await intake.count("referrals") == 1


async def test_a_repeat_gets_the_first_answer_and_other_content_a_conflict(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key(ORG)
    bundle = fresh("menopause")
    first = await post(intake, bundle, key)
    again = await post(intake, json.dumps(bundle, indent=3).encode(), key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    changed = copy.deepcopy(bundle)
    changed["entry"][1]["resource"]["note"] = [{"text": "Another reason."}]
    conflict = await post(intake, changed, key)
    assert conflict.status_code == 409
    assert outcome_codes(conflict) == [("REC_CONFLICT", "Bundle.entry[0].resource.id")]
    assert await intake.count("referrals") == 1
    assert await intake.count("outbox") == 1


@pytest.mark.parametrize(
    ("change", "status", "expected"),
    [
        (
            lambda b: b["entry"][5]["resource"]["identifier"][0].update(value="3478526985"),
            400,
            [("REC_BAD_REQUEST", "Bundle.entry[5].resource.identifier[0]")],
        ),
        (
            lambda b: b["entry"][2]["resource"].update(
                identifier=[{"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "1"}]
            ),
            422,
            [("REC_UNPROCESSABLE_ENTITY", "Bundle.entry[1].resource.performer[0]")],
        ),
        (
            lambda b: b["entry"][15]["resource"].update(
                code=[{"coding": [{"system": "http://snomed.info/sct", "code": "224608005"}]}],
                specialty=[],
            ),
            422,
            [("REC_UNPROCESSABLE_ENTITY", "Bundle.entry[15].resource.code")],
        ),
        (
            lambda b: b["entry"][5]["resource"].update(birthDate="yesterday"),
            400,
            [("REC_BAD_REQUEST", "Bundle.entry[5].resource.birthDate")],
        ),
        (lambda b: b.update(type="document"), 400, [("REC_BAD_REQUEST", "Bundle.type")]),
    ],
    ids=["nhs-number", "unknown-service", "unmapped-role", "invalid-fhir", "not-a-message"],
)
async def test_a_refused_message_names_each_failing_element_and_stores_nothing(
    intake: RunningIntake, change: Any, status: int, expected: list[tuple[str, str]]
) -> None:
    key = await intake.new_key(ORG)
    bundle = fresh("menopause")
    change(bundle)
    answer = await post(intake, bundle, key)
    assert answer.status_code == status
    assert outcome_codes(answer) == expected
    assert identifiers_in(answer.text) == []
    assert await intake.count("referrals") == 0
    assert await intake.count("outbox") == 0


async def test_keys_are_checked_as_for_the_json_api(intake: RunningIntake) -> None:
    bundle = fresh("menopause")
    unknown = await post(intake, bundle, "not-a-key")
    assert unknown.status_code == 401
    assert outcome_codes(unknown) == [("REC_UNAUTHORIZED", None)]
    clinic = await post(intake, bundle, await intake.new_key("hub-west-kent", scope="clinic"))
    assert clinic.status_code == 403
    other = await post(intake, bundle, await intake.new_key("M85001"))
    assert other.status_code == 403
    assert outcome_codes(other) == [("REC_FORBIDDEN", "Bundle.entry[6].resource.identifier[0]")]
    not_json = await post(intake, b"{", await intake.new_key(ORG))
    assert not_json.status_code == 400
    assert await intake.count("referrals") == 0


async def test_transport_refusals_are_operation_outcomes_too(intake: RunningIntake) -> None:
    key = await intake.new_key(ORG)
    body = json.dumps(fresh("menopause")).encode()
    plain = await intake.client.post(
        "/FHIR/R4/$process-message",
        content=body,
        headers=headers(key, **{"Content-Type": "text/plain"}),
    )
    assert plain.status_code == 415
    assert outcome_codes(plain) == [("REC_BAD_REQUEST", None)]
    huge = await post(intake, b" " * (intake.settings.max_body_bytes + 1), key)
    assert huge.status_code == 413
    assert outcome_codes(huge) == [("REC_BAD_REQUEST", None)]
    limit = int(intake.settings.failed_key_limit.split("/")[0])
    for _ in range(limit):
        assert (await post(intake, body, "wrong")).status_code == 401
    slow_down = await post(intake, body, "wrong")
    assert slow_down.status_code == 429
    assert outcome_codes(slow_down) == [("REC_TOO_MANY_REQUESTS", None)]
    assert int(slow_down.headers["Retry-After"]) > 0
    assert await intake.count("referrals") == 0


async def test_the_notifier_learns_the_senders_endpoint_for_its_bars_referrals_only(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key(ORG)
    notifier = await intake.new_key("NOTIFIER", scope="notifier")
    endpoint = "https://gp-system.example/FHIR/R4/$process-message"
    async with intake.service.database.pool.acquire() as conn:
        await bars_endpoints.register(conn, ORG.lower(), endpoint)
    by_bars = (await post(intake, fresh("sti"), key)).json()["entry"][1]["resource"]["id"]
    json_referral = gp_referral(ORG)
    by_json = (
        await intake.client.post(
            "/v1/referrals", json=json_referral, headers={"Authorization": f"Bearer {key}"}
        )
    ).json()["referral_id"]
    found = await intake.client.post(
        "/v1/referrals/contacts",
        json={"referral_ids": [by_bars, by_json]},
        headers={"Authorization": f"Bearer {notifier}"},
    )
    contacts = found.json()["contacts"]
    assert contacts[by_bars]["referrer_endpoint"] == endpoint
    assert contacts[by_json]["referrer_endpoint"] is None


async def test_only_the_sender_reads_its_service_request(intake: RunningIntake) -> None:
    key = await intake.new_key(ORG)
    answer = await post(intake, fresh("sti"), key)
    referral_id = answer.json()["entry"][1]["resource"]["id"]
    url = f"/FHIR/R4/ServiceRequest/{referral_id}"
    assert (await intake.client.get(url, headers=headers(key))).status_code == 200
    other = await intake.client.get(url, headers=headers(await intake.new_key("M85001")))
    assert other.status_code == 404
    assert outcome_codes(other) == [("REC_NOT_FOUND", None)]
    nonsense = await intake.client.get("/FHIR/R4/ServiceRequest/x", headers=headers(key))
    assert nonsense.status_code == 404


def revoke(bundle: dict[str, Any], referral_id: str) -> dict[str, Any]:
    """BaRS's cancellation: the same ServiceRequest, revoked, in an update message."""
    update = copy.deepcopy(bundle)
    update["entry"][0]["resource"]["id"] = str(uuid4())
    update["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "update"
    request = update["entry"][1]["resource"]
    request["status"] = "revoked"
    request["identifier"] = [
        {
            "system": "https://womens-health-referrals.org/fhir/Id/referral-id",
            "value": referral_id,
        }
    ]
    return update


async def test_a_revoke_cancels_an_active_referral_and_is_refused_once_it_is_finished(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key(ORG)
    bundle = fresh("contraception")
    referral_id = (await post(intake, bundle, key)).json()["entry"][1]["resource"]["id"]
    await intake.route(referral_id, "hub-west-kent")

    update = revoke(bundle, referral_id)
    answer = await post(intake, update, key)
    assert answer.status_code == 200, answer.text
    shown = answer.json()["entry"][1]["resource"]
    assert (shown["status"], shown["extension"][0]["valueCode"]) == ("revoked", "cancelled")
    repeat = await post(intake, update, key)
    assert repeat.json() == answer.json()

    (event,) = await intake.wait_events("referrals.lifecycle", referral_id)
    cancelled = json.loads(event.value)
    assert (cancelled["transition"], cancelled["before"]) == ("cancelled", "routed")
    assert identifiers_in(event.value.decode()) == []

    finished = await post(intake, revoke(bundle, referral_id), key)
    assert finished.status_code == 409
    assert outcome_codes(finished) == [("REC_CONFLICT", "Bundle.entry[1].resource.status")]
    stranger = await post(intake, revoke(bundle, referral_id), await intake.new_key("M85001"))
    assert stranger.status_code == 404


async def test_metadata_and_message_definitions_are_valid_fhir(intake: RunningIntake) -> None:
    metadata = await intake.client.get("/FHIR/R4/metadata")
    assert metadata.status_code == 200
    statement = CapabilityStatement.model_validate(metadata.json())
    definitions = await intake.client.get("/FHIR/R4/MessageDefinition")
    searchset = Bundle.model_validate(definitions.json())
    (entry,) = searchset.entry  # type: ignore[misc]
    supported = statement.messaging[0].supportedMessage[0].definition  # type: ignore[index]
    assert entry.resource.url == supported  # type: ignore[union-attr]
    assert entry.resource.eventCoding.code == "servicerequest-request"  # type: ignore[union-attr]


def test_sample_dates_move_with_today() -> None:
    """The helper above must move the samples' dates, or the pregnancy samples expire."""
    moved = fresh("pelvic-health")
    (delivered,) = [
        e["resource"]["valueDateTime"] for e in moved["entry"] if e["resource"].get("valueDateTime")
    ]
    assert date.fromisoformat(delivered) == today() - timedelta(days=60)


@pytest.mark.parametrize("missing", ["X-Request-ID", "X-Correlation-ID"])
async def test_a_request_without_the_ids_bars_requires_is_refused(
    intake: RunningIntake, missing: str
) -> None:
    """BaRS Core: a receiver refuses a request without X-Request-ID or X-Correlation-ID."""
    key = await intake.new_key(ORG)
    sent = {k: v for k, v in headers(key).items() if k != missing}
    answer = await intake.client.post(
        "/FHIR/R4/$process-message", content=json.dumps(fresh("menopause")).encode(), headers=sent
    )
    assert answer.status_code == 400, answer.text
    assert outcome_codes(answer) == [("REC_BAD_REQUEST", f"header.{missing}")]
    assert await intake.count("referrals") == 0
    read = await intake.client.get(f"/FHIR/R4/ServiceRequest/{uuid4()}", headers=sent)
    assert read.status_code == 400
    bad = headers(key, **{missing: "has spaces\tand a tab"})
    refused = await intake.client.post(
        "/FHIR/R4/$process-message", content=json.dumps(fresh("menopause")).encode(), headers=bad
    )
    assert refused.status_code == 400
    assert "has spaces" not in refused.text
