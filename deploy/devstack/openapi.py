"""Intake's OpenAPI document, generated from its code (what its `/openapi.json` serves),
written to docs/openapi.json and checked, for staleness and against the OpenAPI
specification (`openapi-spec-validator`), by the test command."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate

from devstack.asyncapi import builders
from devstack.config import PROJECT_ROOT

DOCUMENT: Path = PROJECT_ROOT / "docs" / "openapi.json"


def render() -> str:
    document = builders()["intake"]().app.openapi()
    validate(document)  # raises naming the first rule the document breaks
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_or_check(check: bool) -> bool:
    """Write the document, or (check) say whether the committed copy is up to date."""
    text = render()
    if check:
        return DOCUMENT.exists() and DOCUMENT.read_text() == text
    DOCUMENT.write_text(text)
    return True
