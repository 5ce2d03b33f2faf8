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


def test_a_logger_in_use_takes_a_new_level_and_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", "json")
    log = get_logger("unit.level")
    log.debug("below the level")
    log.info("at the level")
    configure_logging("test-service", "WARNING", "console")
    log.info("below the new level")
    log.warning("for a person to read")
    configure_logging("test-service", "INFO", "json")  # as the other tests expect it
    written = capsys.readouterr().err.splitlines()
    assert len(written) == 2
    assert json.loads(written[0])["event"] == "at the level"
    assert "for a person to read" in written[1]
    assert not written[1].startswith("{")


def test_an_exception_is_logged_with_its_traceback_and_names_its_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test-service", "INFO", "json")
    try:
        raise ValueError("a fault")
    except ValueError:
        get_logger("unit.failing").exception("it failed")
    line = json.loads(capsys.readouterr().err)
    assert (line["level"], line["logger"]) == ("error", "unit.failing")
    assert "ValueError: a fault" in line["exception"]
