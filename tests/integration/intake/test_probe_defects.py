"""The defects a hostile probe of the newer doors found (issue 22, point 9), each through the
real intake: a small body of any shape or depth is refused with a 4xx and nothing stored,
never a 500; a BaRS Bundle that breaks FHIR R4's own rules is refused; refusals quote nothing
of what was sent; the public and the clinic's pages do not share CSRF tokens; a professional's
key cannot send a self-referral; a redirect never takes its host from the request."""

from __future__ import annotations

import copy
import re
from typing import Any
from uuid import uuid4

import pytest

from devstack.samples import gp_referral
from intake.web.csrf import COOKIE, FIELD
from tests.integration.intake.test_bars_api import ORG, outcome_codes, post
from tests.integration.intake.test_clinic_pages import csrf, routed
from tests.support import staff
from tests.support.bars import fresh
from tests.support.running import RunningIntake

DEEP = ("[" * 1000 + "]" * 1000).encode()
CLINIC = "pelvic-bsol"


def bearer(key: str, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": content_type}


async def nothing_stored(intake: RunningIntake) -> bool:
    return await intake.count("referrals") == 0 and await intake.count("outbox") == 0


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/referrals", "referrer"),
        ("PUT", "/v1/referrals/{id}", "referrer"),
        ("POST", "/v1/referrals/{id}/return", "clinic"),
        ("POST", "/v1/referrals/{id}/cancel", "referrer"),
        ("POST", "/v1/referrals/contacts", "notifier"),
    ],
)
async def test_json_nested_a_thousand_deep_is_refused_not_a_server_error(
    intake: RunningIntake, method: str, path: str, scope: str
) -> None:
    key = await intake.new_key("M85001" if scope == "referrer" else CLINIC, scope=scope)
    answer = await intake.client.request(
        method, path.format(id=uuid4()), content=DEEP, headers=bearer(key)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"field": "body", "message": "The JSON is nested more than 32 deep."}
    ]
    assert await nothing_stored(intake)


async def test_deep_json_inside_strings_is_not_depth(intake: RunningIntake) -> None:
    """Brackets inside a string are text, not nesting: such a referral is taken."""
    key = await intake.new_key("M85001")
    body = gp_referral(**{"clinical.reason": "[[[[" * 20 + '"{{' * 10})
    answer = await intake.client.post("/v1/referrals", json=body, headers=bearer(key))
    assert answer.status_code == 202, answer.text


def with_entry(bundle: dict[str, Any], resource: dict[str, Any], **entry: Any) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    changed["entry"].append({"fullUrl": f"urn:uuid:{uuid4()}", **entry, "resource": resource})
    return changed


def deep_extension(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "https://example.org/x", "valueString": "x"}
    for _ in range(depth):
        extension = {"url": "https://example.org/x", "extension": [extension]}
    return extension


def unknown_type(bundle: dict[str, Any], kind: Any) -> dict[str, Any]:
    return with_entry(bundle, {"resourceType": kind, "id": "x"})


def contained_unknown(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    focus = next(e for e in changed["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    focus["resource"]["contained"] = [{"resourceType": "Bogus", "id": "c1"}]
    return changed


def deep_extensions(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    focus = next(e for e in changed["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    focus["resource"]["extension"] = [deep_extension(120)]
    return changed


def without_resource_type(bundle: dict[str, Any]) -> dict[str, Any]:
    return with_entry(bundle, {"id": "no-type", "status": "final"})


def two_headers(bundle: dict[str, Any]) -> dict[str, Any]:
    return with_entry(bundle, copy.deepcopy(bundle["entry"][0]["resource"]))


def repeated_full_url(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    changed["entry"][2]["fullUrl"] = changed["entry"][1]["fullUrl"]
    return changed


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda b: unknown_type(b, "Bogus"), "Bundle.entry[{last}].resource"),
        (lambda b: unknown_type(b, ""), "Bundle.entry[{last}].resource"),
        (lambda b: unknown_type(b, 5), "Bundle.entry[{last}].resource"),
        (lambda b: unknown_type(b, "__class__"), "Bundle.entry[{last}].resource"),
        (without_resource_type, "Bundle.entry[{last}].resource"),
        (contained_unknown, None),
        (deep_extensions, "Bundle"),
        (two_headers, "Bundle.entry[{last}].resource"),
        (repeated_full_url, "Bundle.entry[2].fullUrl"),
    ],
    ids=[
        "type-Bogus",
        "type-empty",
        "type-number",
        "type-dunder",
        "no-resourceType",
        "contained-Bogus",
        "extensions-120-deep",
        "two-MessageHeaders",
        "repeated-fullUrl",
    ],
)
async def test_a_bundle_that_breaks_fhir_r4_is_refused_with_nothing_stored(
    intake: RunningIntake, change: Any, expression: str | None
) -> None:
    key = await intake.new_key(ORG)
    bundle = change(fresh("menopause"))
    answer = await post(intake, bundle, key)
    assert answer.status_code == 400, answer.text
    codes = outcome_codes(answer)
    assert {code for code, _ in codes} == {"REC_BAD_REQUEST"}
    if expression is not None:
        wanted = expression.format(last=len(bundle["entry"]) - 1)
        assert wanted in [e for _, e in codes], codes
    assert await nothing_stored(intake)


async def test_a_message_with_neither_header_id_nor_full_url_is_refused(
    intake: RunningIntake,
) -> None:
    """Without either there is no message id to make a repeat safe; before, every such message
    shared the id "None", so all but the first were refused as duplicates for ever."""
    key = await intake.new_key(ORG)
    bundle = fresh("menopause")
    del bundle["entry"][0]["resource"]["id"]
    del bundle["entry"][0]["fullUrl"]
    answer = await post(intake, bundle, key)
    assert answer.status_code == 400, answer.text
    assert ("REC_BAD_REQUEST", "Bundle.entry[0].resource.id") in outcome_codes(answer)
    assert await nothing_stored(intake)


async def test_a_fhir_refusal_does_not_echo_an_unknown_element_name(
    intake: RunningIntake,
) -> None:
    key = await intake.new_key(ORG)
    bundle = fresh("menopause")
    bundle["entry"][0]["resource"]["jane-doe-9990000018"] = "x"
    answer = await post(intake, bundle, key)
    assert answer.status_code == 400
    assert "jane-doe" not in answer.text
    assert ("REC_BAD_REQUEST", "Bundle.entry[0].resource") in outcome_codes(answer)


@pytest.mark.parametrize("action", ["return", "cancel"])
async def test_an_unknown_field_beside_the_reason_is_refused(
    intake: RunningIntake, action: str
) -> None:
    referrer = await intake.new_key("M85001")
    clinic = await intake.new_key(CLINIC, scope="clinic")
    referral = await routed(intake, referrer)
    key = clinic if action == "return" else referrer
    answer = await intake.client.post(
        f"/v1/referrals/{referral['referral_id']}/{action}",
        json={"reason_code": "wrong-service", "reasn": "typo"},
        headers=bearer(key),
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["reasn"]
    status = await intake.client.get(
        f"/v1/referrals/{referral['referral_id']}", headers=bearer(referrer)
    )
    assert status.json()["status"] == "routed"


async def test_a_malformed_path_id_is_refused_without_quoting_it(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    answer = await intake.client.get("/v1/referrals/Qnot-a-uuid", headers=bearer(key))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "path.referral_id", "message": "Not a UUID."}]


OUT_OF_RANGE = "0001-01-01T00:00:00+05:00_00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "cursor", [OUT_OF_RANGE, "9999-12-31T23:59:59-05:00_00000000-0000-0000-0000-000000000000"]
)
async def test_a_cursor_outside_the_database_dates_is_refused_by_the_api(
    intake: RunningIntake, cursor: str
) -> None:
    key = await intake.new_key(CLINIC, scope="clinic")
    answer = await intake.client.get(
        "/v1/clinic/referrals", params={"after": cursor}, headers=bearer(key)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": "after", "message": "Not a cursor."}]


async def test_a_cursor_outside_the_database_dates_shows_the_clinic_its_first_page(
    intake: RunningIntake,
) -> None:
    referrer = await intake.new_key("M85001")
    referral = await routed(intake, referrer)
    signed = await staff.sign_in(intake.client, "clin.bsol")
    assert signed.status_code == 303
    answer = await intake.client.get("/clinic", params={"after": OUT_OF_RANGE})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert referral["tracking_reference"] in answer.text


async def test_a_token_pair_from_the_public_pages_does_not_pass_a_clinic_action(
    intake: RunningIntake,
) -> None:
    """An anonymous visitor can always get a cookie and token pair from the cancel page; it
    must not be a valid pair anywhere on the clinic's pages."""
    referrer = await intake.new_key("M85001")
    referral = await routed(intake, referrer)
    public = await intake.client.get("/self-referral/cancel")
    pair = {FIELD: csrf(public.text)}, public.cookies[COOKIE]
    await staff.sign_in(intake.client, "clin.bsol")
    accept = f"/clinic/referrals/{referral['referral_id']}/accept"
    session = intake.client.cookies.get("whr_staff")
    answer = await intake.client.post(
        accept, data=pair[0], headers={"Cookie": f"{COOKIE}={pair[1]}; whr_staff={session}"}
    )
    assert answer.status_code == 403
    clinic_page = await intake.client.get(f"/clinic/referrals/{referral['referral_id']}")
    done = await intake.client.post(accept, data={FIELD: csrf(clinic_page.text)})
    assert done.status_code == 303  # the clinic's own pair still works


async def test_a_professional_key_cannot_send_a_self_referral(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    body = gp_referral(**{"referrer.role": "self"})
    answer = await intake.client.post("/v1/referrals", json=body, headers=bearer(key))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["referrer.role"]
    assert await nothing_stored(intake)


@pytest.mark.parametrize("path", ["/clinic/", "/v1/referrals/"])
async def test_a_trailing_slash_redirect_never_names_the_request_host(
    intake: RunningIntake, path: str
) -> None:
    answer = await intake.client.get(path, headers={"Host": "evil.example"})
    assert "evil.example" not in answer.headers.get("location", "")
    if answer.status_code in (301, 302, 307, 308):
        assert re.fullmatch(r"/[a-z0-9/]*", answer.headers["location"])


@pytest.mark.parametrize("path", ["/clinic/referrals/not-a-referral", "/self-referral/cancel/x"])
async def test_a_refusal_on_the_pages_is_a_page(intake: RunningIntake, path: str) -> None:
    """Each door answers its own refusals: a person at the pages sees a page, not JSON."""
    answer = await intake.client.get(path)
    assert answer.status_code in (404, 405, 422)
    assert answer.headers["content-type"].startswith("text/html")
    assert "We could not find this page." in answer.text
