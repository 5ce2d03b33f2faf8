"""The scanner the topic and log checks rely on: it must find identifiers in clear text and
not cry wolf inside sealed (base64) payloads."""

from __future__ import annotations

import json

from devstack.samples import GP_PATIENT
from tests.support.pii import identifiers_in


def test_identifiers_in_clear_json_are_found() -> None:
    text = json.dumps({"patient": GP_PATIENT})
    found = identifiers_in(text)
    assert GP_PATIENT["given_name"] in found
    assert GP_PATIENT["nhs_number"] in found
    assert GP_PATIENT["postcode"] in found


def test_a_name_inside_a_base64_run_is_not_an_identifier() -> None:
    name = GP_PATIENT["given_name"]
    assert identifiers_in(f'{{"sealed": "q8Z{name}x0Vb"}}') == []
    assert identifiers_in(f'{{"given_name": "{name}"}}') == [name]
