"""Schemathesis against intake's own OpenAPI document, sent over HTTP to a real intake process
on the real servers: no request answers 5xx, a refused request stores nothing, and no value
a request carried comes back in the answer or in intake's log.

`HOSTILE_EXAMPLES` sets the examples per operation (default 60, derandomised for CI; a
larger number explores further: `HOSTILE_EXAMPLES=1000 uv run pytest tests/hostile`).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import asyncpg
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

from intake.main import create_service
from intake.settings import IntakeSettings
from tests.support.intake_process import Intake
from tests.support.keys import INTAKE_PRIVATE_KEY
from tests.support.servers import Servers

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))


def _document() -> dict[str, Any]:
    settings = IntakeSettings(private_key=SecretStr(INTAKE_PRIVATE_KEY))
    return create_service(settings).app.openapi()


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def field_paths(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every field's dotted path (`patient.family_name`), as refusals name them."""
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    found = []
    for option in schema.get("anyOf", []):
        found += field_paths(option, prefix)
    for name, inner in schema.get("properties", {}).items():
        found += [prefix + name, *field_paths(inner, f"{prefix}{name}.")]
    return found


# Words the answers may rightly contain: field names and paths, enum values, our own words.
_VOCABULARY = json.dumps(DOCUMENT) + " ".join(
    path
    for name in DOCUMENT["components"]["schemas"]
    for path in field_paths({"$ref": f"#/components/schemas/{name}"})
)


def stored(intake: Intake, servers: Servers) -> int:
    """Referrals and outbox rows in this intake's schema."""

    async def count() -> int:
        conn = await asyncpg.connect(servers.database_url)
        try:
            schema = intake.env["INTAKE_DB_SCHEMA"]
            return int(
                await conn.fetchval(
                    f"SELECT (SELECT count(*) FROM {schema}.referrals)"
                    f" + (SELECT count(*) FROM {schema}.outbox)"
                )
            )
        finally:
            await conn.close()

    return asyncio.run(count())


def carried_values(case: Any) -> set[str]:
    """Text the request carried that no answer should repeat: long enough to be telling,
    and not a word of the document itself (an enum value may rightly be named)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if len(value.strip()) >= 8 and value not in _VOCABULARY:
                found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for part in (case.body, case.query, case.path_parameters):
        walk(part)
    return found


def logged_values(log: str) -> str:
    """What the log lines said, without their own keys: a fuzzed "timestam" is not quoted
    by a line because every line has a `timestamp` key."""
    said = []
    for line in log.splitlines():
        try:
            said += [str(v) for v in json.loads(line).values()]
        except (ValueError, AttributeError):
            said.append(line)  # not a JSON line: all of it counts
    return "\n".join(said)


CLINIC_OPERATIONS = {"accept", "return", "clinic_worklist"}


def key_for(intake: Intake, operation: str) -> str:
    """The key that may call the operation, so the case reaches its body's checks."""
    if operation == "contacts":
        return intake.notifier_key
    return intake.clinic_key if operation in CLINIC_OPERATIONS else intake.key


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_breaks_intake_or_echoes_what_it_carried(
    intake_process: Intake, servers: Servers, case: Any
) -> None:
    intake = intake_process
    key = key_for(intake, case.operation.definition.raw.get("operationId", ""))
    before = stored(intake, servers) if case.method == "POST" else None
    log_seen = len(intake.process.output())
    response = case.call(
        base_url=intake.process.url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code < 500, response.text
    if before is not None and response.status_code >= 400:
        assert stored(intake, servers) == before, "a refused request left something stored"
    log = logged_values(intake.process.output()[log_seen:])
    for value in carried_values(case):
        if response.status_code >= 400:
            assert value not in response.text, "an error answer quoted the request"
        assert value not in log, "the log quoted the request"
