"""Structured JSON logs with a correlation id, and a last guard against patient identifiers.

structlog renders our own events; the standard library's loggers (FastStream, aiokafka,
uvicorn) are routed through the same processors so every line is one JSON object.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import IO, Any

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


_LEVELS = {
    "debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
    "warn": logging.WARNING, "error": logging.ERROR, "exception": logging.ERROR,
    "critical": logging.CRITICAL, "fatal": logging.CRITICAL,
}  # fmt: skip
_threshold = logging.INFO
_render: structlog.types.Processor = structlog.processors.JSONRenderer()
_LINE_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    redact_patient_identifiers,
    add_trace_ids,
]


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Idempotent: safe to call from every entry point and from tests. A logger already in
    use takes the new level and format at its next line."""
    global _threshold, _render
    _threshold = _LEVELS[level.lower()]
    _render = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Our own lines go straight from structlog to standard error: through the standard
    # library's machinery (two LogRecords, a handler, a formatter) a line cost three times as
    # much, and the services write one or two for every referral.
    structlog.configure(
        processors=[_at_level, _named, *_LINE_PROCESSORS, _rendered],
        logger_factory=_StandardError,
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    )
    # The libraries' lines (FastStream, aiokafka, uvicorn) come through the standard library,
    # rendered the same way.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(),
                           *_LINE_PROCESSORS],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _rendered],
    )  # fmt: skip
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_threshold)
    for name in _LIBRARY_LOGGERS:  # they install their own handlers; send them through ours
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    # "component", not "service": a referral's own `service` field must not be overwritten.
    structlog.contextvars.bind_contextvars(component=service)


def _at_level(_logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    """Drops a line below the configured level, before any other work."""
    if _LEVELS.get(method, logging.ERROR) < _threshold:
        raise structlog.DropEvent
    return event


def _named(logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    event["logger"] = logger.name
    return event


def _rendered(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    return _render(logger, method, event)


class _StandardError:
    """structlog's last step: each line to the standard error of the moment (tests replace
    it), whole, under a lock shared by the threads that log."""

    _lock = threading.Lock()

    def __init__(self, name: str = "", *_args: Any) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        with self._lock:
            for stream in (sys.stderr, *_copies):
                stream.write(message + "\n")
                stream.flush()

    debug = info = warning = error = critical = exception = msg


_copies: list[IO[str]] = []


@contextmanager
def copied_to(stream: IO[str]) -> Iterator[None]:
    """Every line, ours and the libraries', also written to `stream` while the block runs
    (for tests that read what was logged, rendered as in production)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    _copies.append(stream)
    try:
        yield
    finally:
        _copies.remove(stream)
        root.removeHandler(handler)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose lines name `name` as their `logger`."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


@contextmanager
def correlation(correlation_id: str) -> Iterator[None]:
    """Bind a correlation id to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
        yield
