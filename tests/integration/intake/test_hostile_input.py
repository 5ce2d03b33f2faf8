"""Requests an attacker or a careless partner would send (issue 11): each is refused with a
clear answer, nothing is stored, and no submitted value comes back in an answer or a log."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import pytest

from devstack.samples import gp_referral
from intake.web.csrf import COOKIE, FIELD
from tests.integration.intake.test_self_referral_form import FORM, filled, token
from tests.support.forms import date_fields
from tests.support.keys import INTAKE_PRIVATE_KEY
from tests.support.pii import identifiers_in
from tests.support.running import RunningIntake, intake_settings, running_intake
from tests.support.servers import Servers


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post_json(intake: RunningIntake, body: bytes, key: str, **headers: str) -> Any:
    return await intake.client.post(
        "/v1/referrals",
        content=body,
        headers={"Content-Type": "application/json", **bearer(key), **headers},
    )


async def nothing_stored(intake: RunningIntake) -> bool:
    return await intake.count("referrals") == 0 and await intake.count("outbox") == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"patient.date_of_birth": "1850-01-01"}, "patient.date_of_birth"),
        ({"clinical.reason": "Leaking\u0000"}, "clinical.reason"),
        ({"patient.given_name": "Ja\u0000ne"}, "patient.given_name"),
        ({"patient.given_name": "Jane\u001b[31m"}, "patient.given_name"),
        ({"patient.family_name": "Doe\r\nBcc: x"}, "patient.family_name"),
        ({"patient.given_name": "<b>Jane</b>"}, "patient.given_name"),
        ({"patient.given_name": "Jane\u202eyrrebeoD"}, "patient.given_name"),
        ({"clinical.conditions": ["cardiac"] * 5000}, "clinical.conditions"),
        ({"patient.contact_preferences": ["sms"] * 50}, "patient.contact_preferences"),
        ({"referrer.contact_email": None}, "referrer.contact_email"),
        ({"patient.contact_preferences": ["letter"]}, "patient.contact_preferences"),
    ],
    ids=[
        "born-1850",
        "nul-in-reason",
        "nul-in-name",
        "escape-in-name",
        "line-break-in-name",
        "html-in-name",
        "bidi-override-in-name",
        "5000-conditions",
        "50-preferences",
        "no-referrer-email",
        "letter-without-address",
    ],
)
async def test_what_could_fail_later_is_refused_now_with_nothing_stored(
    intake: RunningIntake, changes: dict[str, Any], field: str, logged: io.StringIO
) -> None:
    key = await intake.new_key("M85001")
    response = await post_json(intake, json.dumps(gp_referral(**changes)).encode(), key)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await nothing_stored(intake)
    assert "\\u0000" not in logged.getvalue()


async def test_no_part_of_a_submitted_email_comes_back_or_is_logged(
    intake: RunningIntake, logged: io.StringIO
) -> None:
    key = await intake.new_key("M85001")
    for email in ("jane@[1.2.3.9434765919]", "jane@xn--bcher-kva.invalid.", "jane.doe@@x"):
        response = await post_json(
            intake, json.dumps(gp_referral(**{"patient.email": email})).encode(), key
        )
        assert response.status_code == 422
        for part in re.split(r"[@.\[\]]+", email):
            if len(part) > 3:
                assert part not in response.text
                assert part not in logged.getvalue()
    assert identifiers_in(logged.getvalue()) == []


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), ("application/x-www-form-urlencoded", 415), (None, 415)],
)
async def test_a_body_not_declared_as_json_is_refused(
    intake: RunningIntake, content_type: str | None, status: int
) -> None:
    key = await intake.new_key("M85001")
    headers = bearer(key) | ({"Content-Type": content_type} if content_type else {})
    response = await intake.client.post(
        "/v1/referrals", content=json.dumps(gp_referral()).encode(), headers=headers
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert await nothing_stored(intake)


async def test_a_key_given_twice_is_refused_not_last_one_wins(intake: RunningIntake) -> None:
    key = await intake.new_key("M85001")
    text = json.dumps(gp_referral())
    twice = text.replace(
        '"service": "pelvic-health"', '"service": "thrive", "service": "pelvic-health"'
    )
    assert twice != text
    response = await post_json(intake, twice.encode(), key)
    assert response.status_code == 422
    assert "twice" in response.json()["errors"][0]["message"]
    assert await nothing_stored(intake)


async def test_the_contact_lookup_is_bounded_and_never_echoes(intake: RunningIntake) -> None:
    key = await intake.new_key("NOTIFIER", "notifier")
    huge = b'{"referral_ids": ["' + b"9434765919" * 800_000 + b'"]}'
    response = await intake.client.post(
        "/v1/referrals/contacts",
        content=huge,
        headers={"Content-Type": "application/json", **bearer(key)},
    )
    assert response.status_code == 413
    bad = await intake.client.post(
        "/v1/referrals/contacts", json={"referral_ids": ["9434765919"]}, headers=bearer(key)
    )
    assert bad.status_code == 422
    assert "9434765919" not in bad.text


async def test_wrong_api_keys_are_throttled_per_client(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    settings = intake_settings(
        servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY, failed_key_limit="3/minute"
    )
    async with running_intake(settings, servers) as intake:
        statuses = [(await post_json(intake, b"{}", f"wrong-{n}")).status_code for n in range(4)]
        assert statuses == [401, 401, 401, 429]
        refused = await post_json(intake, b"{}", "wrong-again")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_every_answer_carries_the_security_headers(intake: RunningIntake) -> None:
    for path in (FORM, "/v1/referrals/00000000-0000-0000-0000-000000000000"):
        response = await intake.client.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


# The form


async def test_an_oversized_or_multipart_post_is_refused_before_it_is_read(
    intake: RunningIntake,
) -> None:
    data = filled(await token(intake))
    data["clinical.reason"] = "x" * 900_000
    assert (await intake.client.post(FORM, data=data)).status_code == 413
    upload = await intake.client.post(
        FORM, data=filled(await token(intake)), files={"file": ("a.bin", b"0" * 1000)}
    )
    assert upload.status_code == 415
    assert await intake.events("referrals.self-referral") == []


async def test_a_long_answer_is_not_shown_back_whole(intake: RunningIntake) -> None:
    data = filled(await token(intake))
    data["patient.given_name"] = "A" * 5000
    response = await intake.client.post(FORM, data=data)
    assert response.status_code == 422
    assert "A" * 101 not in response.text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"clinical.reason": "Pain\u0000"}, "letters, numbers and punctuation"),
        ({"patient.email": "jane@@example.com"}, "like name@example.com"),
        (date_fields("patient.date_of_birth", "1850-01-01"), "Check the year"),
        (
            {"patient.date_of_birth-day": "31", "patient.date_of_birth-month": "2"},
            "Your date of birth must be a real date.",
        ),
        (
            {"patient.email": "", "patient.contact_preferences": ["letter"]},
            "needs a postal address",
        ),
    ],
)
async def test_the_form_says_what_to_correct_in_plain_words(
    intake: RunningIntake, changes: dict[str, Any], words: str
) -> None:
    data = filled(await token(intake)) | changes
    response = await intake.client.post(FORM, data=data)
    assert response.status_code == 422
    assert words in response.text
    assert "There can't be anything" not in response.text  # no library message
    assert await intake.events("referrals.self-referral") == []


async def test_a_letter_needs_and_carries_the_address(intake: RunningIntake) -> None:
    data = filled(await token(intake)) | {
        "patient.contact_preferences": ["letter", "email"],
        "patient.address.line_1": "1 Station Road",
        "patient.address.town": "Bristol",
    }
    response = await intake.client.post(FORM, data=data)
    assert response.status_code == 303


async def test_the_same_form_sent_twice_is_one_referral(intake: RunningIntake) -> None:
    page = await intake.client.get(FORM)
    csrf = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    form_id = re.search(r'name="form_id" value="([^"]+)"', page.text)
    assert csrf is not None
    assert form_id is not None
    data = filled(csrf.group(1)) | {"form_id": form_id.group(1)}
    first = await intake.client.post(FORM, data=data)
    second = await intake.client.post(FORM, data=data)  # a double click, or a reload
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    referral_id = uuid.uuid5(uuid.NAMESPACE_URL, f"self-referral-form:{form_id.group(1)}")
    assert len(await intake.wait_events("referrals.received", str(referral_id))) == 1
    assert await intake.count("referrals") == 1


async def test_a_post_from_another_site_is_refused(intake: RunningIntake) -> None:
    data = filled(await token(intake))
    response = await intake.client.post(FORM, data=data, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert await intake.events("referrals.self-referral") == []


async def test_a_planted_csrf_cookie_is_not_adopted(intake: RunningIntake) -> None:
    intake.client.cookies.set(COOKIE, "attacker-chosen-nonce", path="/self-referral")
    page = await intake.client.get(FORM)
    assert page.cookies.get(COOKIE) not in (None, "attacker-chosen-nonce")


async def test_junk_posts_do_not_use_up_the_form_limit(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    settings = intake_settings(
        servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY, form_rate_limit="2/minute"
    )
    async with running_intake(settings, servers) as intake:
        for _ in range(5):  # no valid token: refused, and not counted
            assert (await intake.client.post(FORM, data=filled("junk"))).status_code == 403
        first = await intake.client.post(FORM, data=filled(await token(intake)))
        assert first.status_code == 303


async def test_the_form_limit_holds_across_processes(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    settings = intake_settings(
        servers, db_schema, topic_prefix, INTAKE_PRIVATE_KEY, form_rate_limit="2/minute"
    )
    async with running_intake(settings, servers) as one, running_intake(settings, servers) as two:
        statuses = []
        for intake in (one, two, one, two):
            data = filled(await token(intake)) | {"patient.postcode": "nowhere"}
            statuses.append((await intake.client.post(FORM, data=data)).status_code)
        assert statuses == [422, 422, 429, 429]
        limited = await two.client.post(FORM, data=filled(await token(two)))
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
