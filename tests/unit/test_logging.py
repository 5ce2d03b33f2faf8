"""Log lines are JSON, carry the correlation id and never a patient identifier."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logging import configure_logging, correlation, get_logger


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    configure_logging("test-service", "INFO", "json")
    log = get_logger("unit")
    with correlation("corr-123"):
        log.info("received", nhs_number="9434765919", email="jane@example.com", service="thrive")
        logging.getLogger("faststream.test").info("consumed for 943 476 5919")
    log.info("outside")
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_lines_are_json_with_correlation_id(lines: list[dict[str, object]]) -> None:
    assert lines[0]["correlation_id"] == "corr-123"
    assert lines[1]["correlation_id"] == "corr-123"  # stdlib loggers too
    assert "correlation_id" not in lines[2]
    assert lines[0]["service"] == "thrive"  # a field of the event itself wins
    assert lines[2]["component"] == "test-service"


def test_identifiers_never_reach_the_log(lines: list[dict[str, object]]) -> None:
    text = json.dumps(lines)
    assert "9434765919" not in text
    assert "943 476 5919" not in text
    assert "jane@example.com" not in text
    assert lines[0]["nhs_number"] == "[redacted]"


def test_identifiers_nested_in_logged_values_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test-service", "INFO", "json")
    get_logger("unit").info(
        "refused",
        errors=[{"field": "patient.nhs_number", "message": "not 9434765919"}],
        details={"patient": {"email": "jane@example.com"}, "contact_email": "gp@example.nhs.uk"},
    )
    text = capsys.readouterr().err
    for value in ("9434765919", "jane@example.com", "gp@example.nhs.uk"):
        assert value not in text
    assert json.loads(text)["errors"][0]["field"] == "patient.nhs_number"
