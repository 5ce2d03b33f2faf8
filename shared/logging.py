"""Structured JSON logs with a correlation id, and a last guard against patient identifiers.

structlog renders our own events; the standard library's loggers (FastStream, aiokafka,
uvicorn) are routed through the same processors so every line is one JSON object.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace

# Keys that may carry patient identifiers or contact details; their values are never logged.
SENSITIVE_KEYS = frozenset(
    {
        "nhs_number",
        "given_name",
        "family_name",
        "name",
        "date_of_birth",
        "postcode",
        "email",
        "mobile",
        "phone",
        "address",
        "contact_email",
        "patient",
    }
)
# A ten-digit run (NHS number, possibly spaced 3-3-4) inside any logged string.
_NHS_NUMBER_LIKE = re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b")
REDACTED = "[redacted]"
_LIBRARY_LOGGERS = ("faststream", "faststream.access", "uvicorn", "uvicorn.error", "uvicorn.access")


def redact_patient_identifiers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop sensitive keys and mask NHS-number-like digit runs, at any
    depth (a logged dict or list of errors is searched too)."""
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if key in SENSITIVE_KEYS else _redacted(value)
    return event_dict


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return _NHS_NUMBER_LIKE.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {k: REDACTED if k in SENSITIVE_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redacted(v) for v in value]
    return value


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """The trace and span a line was written in (when tracing is on), to find its trace."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event["trace_id"] = format(span.trace_id, "032x")
        event["span_id"] = format(span.span_id, "016x")
    return event


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Idempotent: safe to call from every entry point and from tests."""
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_patient_identifiers,
        add_trace_ids,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # below the level: dropped before any work
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _LIBRARY_LOGGERS:  # they install their own handlers; send them through ours
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    # "component", not "service": a referral's own `service` field must not be overwritten.
    structlog.contextvars.bind_contextvars(component=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


@contextmanager
def correlation(correlation_id: str) -> Iterator[None]:
    """Bind a correlation id to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
        yield
