"""Each service's AsyncAPI document shows the schema of what every subscriber takes, not an
empty payload: the handlers take typed pydantic payloads (`shared.consumer.subscribe`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from intake.main import create_service as create_intake
from intake.settings import IntakeSettings
from notifier.main import create_service as create_notifier
from notifier.settings import NotifierSettings
from router.main import create_service as create_router
from router.settings import RouterSettings
from shared.service import Service
from tests.support.keys import INTAKE_PRIVATE_KEY


def _intake() -> Service:
    return create_intake(IntakeSettings(private_key=SecretStr(INTAKE_PRIVATE_KEY)))


def _router() -> Service:
    return create_router(RouterSettings())


def _notifier() -> Service:
    return create_notifier(
        NotifierSettings(intake_api_key=SecretStr("whr_0123456789ab_" + "k" * 43), local_mode=True)
    )


# Each subscriber's channel, and a field only its payload's schema has.
EXPECTED = {
    "intake": (_intake, {"referrals.self-referral": "sealed_submission",
                         "referrals.routed": "rules_version"}),
    "router": (_router, {"referrals.received": "postcode_district"}),
    "notifier": (_notifier, {"referrals.triage": "received_event_id"}),
}  # fmt: skip


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow $ref pointers inside the document, so a payload reads as its whole schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(document, target)
        return {key: _resolve(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(document, value) for value in node]
    return node


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_every_subscriber_documents_its_payload(service: str) -> None:
    build, fields = EXPECTED[service]
    document = build().asyncapi().to_specification().to_jsonable()
    for name, operation in document["operations"].items():
        if operation["action"] != "receive":
            continue
        for message in operation["messages"]:
            payload = json.dumps(_resolve(document, message)["payload"])
            assert "EmptyPayload" not in payload, name
    subscribed = {
        json.dumps(_resolve(document, op["channel"])["address"]): json.dumps(
            [_resolve(document, m) for m in op["messages"]]
        )
        for op in document["operations"].values()
        if op["action"] == "receive"
    }
    for channel, field in fields.items():
        (schema,) = [text for address, text in subscribed.items() if channel in address]
        assert field in schema, channel
