"""Property-based fuzzing (hypothesis) of what every door and every consumer takes in: the
submission, and the bytes on each topic. Whatever comes, the answer is a refusal naming
fields (never quoting the value) or something every later step can take: it reduces to its
routing event, and its JSON can be stored (no NUL, no lone surrogate)."""

from __future__ import annotations

import contextlib
import json
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from devstack.samples import gp_referral, self_referral
from intake.adapters.self_referral_codec import Unreadable, decode
from intake.bars.message import read_message
from intake.bars.refusals import Refused
from intake.domain.referral import BadReference, NotASelfReferral, accept_self_referral
from intake.views import parse_cursor
from intake.web.body import MAX_DEPTH, nesting
from shared.contracts import ReferralDecided, ReferralReceived
from shared.reduction import for_routing
from shared.sealed import seal
from shared.submission import ReferralSubmission, field_errors
from tests.support.bars import fresh
from tests.support.keys import INTAKE_PRIVATE_KEY, INTAKE_PUBLIC_KEY

TODAY = date.today()
TEXT_PATHS = (
    "patient.given_name",
    "patient.family_name",
    "patient.postcode",
    "patient.email",
    "patient.mobile",
    "patient.nhs_number",
    "referrer.name",
    "referrer.organisation_code",
    "referrer.contact_email",
    "clinical.reason",
    "clinical.prior_approval_reference",
)
DATE_PATHS = (
    "patient.date_of_birth",
    "clinical.expected_delivery_date",
    "clinical.delivery_date",
)
LIST_PATHS = ("clinical.conditions", "patient.contact_preferences")
VOCABULARY = json.dumps(ReferralSubmission.model_json_schema())

any_text = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=300)
nasty_text = st.one_of(
    any_text,
    st.sampled_from(["\x00", "\u202e", "\x1b[2J", "\r\n", "<script>", "\ud800"]).flatmap(
        lambda bad: st.builds(lambda a, b: a + bad + b, any_text, any_text)
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | nasty_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(nasty_text, inner, max_size=5),
    max_leaves=20,
)
mutation = st.one_of(
    st.tuples(st.sampled_from(TEXT_PATHS), nasty_text),
    st.tuples(
        st.sampled_from(DATE_PATHS),
        st.dates(min_value=date(1, 1, 1)).map(date.isoformat) | nasty_text,
    ),
    st.tuples(st.sampled_from(LIST_PATHS), st.lists(nasty_text, max_size=60)),
    st.tuples(st.sampled_from(TEXT_PATHS + DATE_PATHS + LIST_PATHS), json_values),
)


def storable(text: str) -> bool:
    """What PostgreSQL's jsonb takes: UTF-8, and no NUL escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\\u0000" not in text and "\x00" not in text


def carried(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) >= 6 and value not in VOCABULARY else []
    if isinstance(value, list):
        return [v for item in value for v in carried(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in carried(item)]
    return []


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    base=st.sampled_from([gp_referral, self_referral]),
    mutations=st.lists(mutation, min_size=1, max_size=3),
)
def test_a_submission_is_refused_by_name_or_can_be_taken_all_the_way(
    base: Any, mutations: list[tuple[str, Any]]
) -> None:
    data = base(**dict(mutations))
    try:
        submission = ReferralSubmission.model_validate(data, context={"today": TODAY})
    except ValidationError as error:
        text = json.dumps(field_errors(error))
        for _path, value in mutations:
            for fragment in carried(value):
                assert fragment not in text
        return
    received = for_routing(
        submission,
        referral_id=uuid4(),
        tracking_reference="WHR-2345-6789X",
        correlation_id="c",
        today=TODAY,
    )
    assert storable(submission.model_dump_json())
    assert storable(received.model_dump_json())
    ReferralReceived.model_validate_json(received.model_dump_json())  # the router can read it


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_on_a_topic_are_read_or_refused_never_a_crash(raw: bytes) -> None:
    for event_type in (ReferralReceived, ReferralDecided):
        try:
            event = event_type.model_validate_json(raw)
        except ValidationError:
            continue
        assert storable(event.model_dump_json())
    with contextlib.suppress(Unreadable):
        decode(raw, INTAKE_PRIVATE_KEY, TODAY)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(
        ["sex_at_birth", "postcode_district", "tracking_reference", "correlation_id"]
    ),
    value=nasty_text,
    listed=st.lists(nasty_text, max_size=30),
)
def test_a_routing_event_with_hostile_strings_is_refused_or_storable(
    field: str, value: str, listed: list[str]
) -> None:
    good = json.loads(
        for_routing(
            ReferralSubmission.model_validate(gp_referral(), context={"today": TODAY}),
            referral_id=uuid4(),
            tracking_reference="WHR-2345-6789X",
            correlation_id="c",
            today=TODAY,
        ).model_dump_json()
    )
    for changed in (good | {field: value}, good | {"conditions": listed}):
        try:
            event = ReferralReceived.model_validate(changed)
        except ValidationError:
            continue
        assert storable(event.model_dump_json())


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_a_sealed_self_referral_is_refused_with_a_reason_or_accepted_whole(
    mutations: list[tuple[str, Any]],
) -> None:
    try:
        payload = json.dumps(self_referral(**dict(mutations))).encode("utf-8")
    except UnicodeEncodeError:
        return  # a lone surrogate cannot even be sent as UTF-8 JSON
    event = {
        "correlation_id": "c",
        "source": "partner-form",
        "sealed_submission": seal(INTAKE_PUBLIC_KEY, payload),
    }
    try:
        opened, submission = decode(json.dumps(event).encode(), INTAKE_PRIVATE_KEY, TODAY)
        accepted = accept_self_referral(
            submission, source=opened.source, correlation_id="c", today=TODAY
        )
    except (Unreadable, NotASelfReferral, BadReference):
        return
    assert storable(accepted.submission.model_dump_json())
    assert accepted.received.age_years <= 130
    assert TODAY - timedelta(days=400) <= (
        accepted.submission.clinical.expected_delivery_date or TODAY
    )


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


bracket_text = st.text(st.sampled_from('[]{}"\\ax'), max_size=12)
nested_values = st.recursive(
    st.none() | st.integers() | bracket_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(bracket_text, inner, max_size=3),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(value=nested_values)
def test_the_depth_bound_counts_nesting_and_not_brackets_in_strings(value: Any) -> None:
    assert nesting(json.dumps(value).encode()) == depth(value)


resource_types = st.sampled_from(["Bogus", "", "__class__", "Coding", "Patient"]) | st.integers()


def nested_extension(levels: int) -> dict[str, Any]:
    found: dict[str, Any] = {"url": "https://example.org/x", "valueString": "x"}
    for _ in range(levels):
        found = {"url": "https://example.org/x", "extension": [found]}
    return found


bundle_changes = st.one_of(
    st.tuples(st.just("entry"), resource_types),
    st.tuples(st.just("contained"), resource_types),
    st.tuples(st.just("depth"), st.integers(0, 40)),
    st.tuples(st.just("repeat-url"), st.integers(1, 6)),
    st.tuples(st.just("url-of-any-kind"), json_values),
    st.tuples(st.just("header-id"), st.none() | nasty_text),
    st.tuples(st.just("element"), nasty_text),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.lists(bundle_changes, min_size=1, max_size=3))
def test_a_bars_bundle_of_any_shape_is_read_or_refused_never_a_crash(
    changes: list[tuple[str, Any]],
) -> None:
    bundle = fresh("menopause")
    focus = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    for kind, value in changes:
        if kind == "entry":
            bundle["entry"].append(
                {"fullUrl": f"urn:uuid:{uuid4()}", "resource": {"resourceType": value}}
            )
        elif kind == "contained":
            focus["resource"]["contained"] = [{"resourceType": value, "id": "c"}]
        elif kind == "depth":
            focus["resource"]["extension"] = [nested_extension(value)]
        elif kind == "url-of-any-kind":  # found by schemathesis: a fullUrl that is {}
            bundle["entry"][-1]["fullUrl"] = value
        elif kind == "repeat-url":
            bundle["entry"][value]["fullUrl"] = bundle["entry"][-1].get("fullUrl")
        elif kind == "header-id":
            bundle["entry"][0]["resource"]["id"] = value
            bundle["entry"][0].pop("fullUrl", None)
        else:
            bundle["entry"][0]["resource"][value] = "x"
    body = json.dumps(bundle).encode()
    if nesting(body) > MAX_DEPTH:
        return  # the door refuses it before parsing: see the integration tests
    statuses: list[int] = []
    try:
        read_message(json.loads(body))
    except Refused as refused:
        statuses = [i.status for i in refused.issues] or [0]
    assert set(statuses) <= {400, 422}


@settings(max_examples=300, deadline=None)
@given(
    cursor=st.text(max_size=80)
    | st.builds(
        lambda rank, when, offset: f"{rank}_{when.isoformat()}{offset}_{uuid4()}",
        st.sampled_from(["0", "1", "2", "3", "4", ""]),
        st.datetimes(),
        st.sampled_from(["", "+05:00", "-05:00", "Z", "+14:00"]),
    )
)
def test_a_worklist_cursor_is_an_instant_postgresql_can_hold_or_refused(cursor: str) -> None:
    try:
        parsed = parse_cursor(cursor)
    except ValueError:
        return
    assert parsed is not None
    _, when, _ = parsed
    assert when.utcoffset() == timedelta(0)
    assert 1 <= when.year <= 9999
