"""Tracing with OpenTelemetry: one referral's work, from the POST to the woman's message, in
one trace across the three services. Off unless the standard variables ask for it
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
`OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true` wins); the OTLP exporter reads the
rest of `OTEL_*` itself.

Kafka carries the trace context in each record's W3C headers (`traceparent`), written into the
outbox row with the event, so that the relay, whenever it runs, publishes the event as part of
the trace that made it. Consumers take events in batches (FastStream links a batch's span to
its records'), so each event is continued on its own: `received` opens its span under the
record's context, and what the batch then writes for it (by its correlation id) or sends for
it carries that context on. Spans name ids and topics, never a patient's details."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import context, propagate, trace

TRACER = trace.get_tracer("womens-health")
HEADERS = ("traceparent", "tracestate")
# The standard variable deployments set (compose, the chart); the SDK reads the rest itself.
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Per batch: each incoming event's correlation id -> the context its work continues.
_INCOMING: ContextVar[Mapping[str, dict[str, str]] | None] = ContextVar(
    "incoming_traces", default=None
)
_on = False  # set by `configure`: off, nothing here costs more than a flag's test


def wanted() -> bool:
    """Whether the environment asks for traces (the standard OTEL_* variables)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    return bool(endpoint) or os.environ.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp"


def configure(service: str) -> bool:
    """Export this process's spans over OTLP when the environment asks; True if it does."""
    global _on
    if not wanted():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]  # statements only: asyncpg's arguments are not recorded
    AioHttpClientInstrumentor().instrument()  # the notifier's calls to its providers
    _on = True
    return True


def on() -> bool:
    return _on


def shutdown() -> None:
    """Send what is left (at a graceful stop)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when there is none)."""
    found: dict[str, str] = {}
    propagate.inject(found)
    return found


def headers_of(record_headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    """The trace headers of a Kafka record."""
    return {k: v.decode() for k, v in (record_headers or ()) if k in HEADERS}


def received(events: Iterable[tuple[str, str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    """Open and close one span per incoming event (correlation id, topic, its record's trace
    headers) under its record's context: the consumer side of each hop. Returns each
    correlation id's context, for what the batch does next for it."""
    continued: dict[str, dict[str, str]] = {}
    if not _on:
        return continued
    for correlation_id, topic, headers in events:
        parent = propagate.extract(headers)
        with TRACER.start_as_current_span(
            f"{topic} receive", context=parent, kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.destination.name": topic,
                        "messaging.message.conversation_id": correlation_id},
        ):  # fmt: skip
            continued[correlation_id] = carrier()
    return continued


@contextmanager
def incoming(contexts: Mapping[str, dict[str, str]]) -> Iterator[None]:
    """While a batch is worked on: each event's context, by its correlation id."""
    token = _INCOMING.set(contexts)
    try:
        yield
    finally:
        _INCOMING.reset(token)


def for_event(correlation_id: str) -> dict[str, str]:
    """The trace headers for an event written now: its incoming event's context when a batch
    is being worked on, else the current one (an HTTP request, say)."""
    if not _on:
        return {}
    return dict((_INCOMING.get() or {}).get(correlation_id) or carrier())


def published(topic: str, correlation_id: str, headers: Mapping[str, str]) -> dict[str, str]:
    """The trace headers to publish an event with (those it was written with): the producer
    side of the hop, a span under the event's own context, whose context they then carry."""
    if not _on or not headers:
        return dict(headers)
    token = context.attach(propagate.extract(dict(headers)))
    try:
        with TRACER.start_as_current_span(
            f"{topic} publish", kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.message.conversation_id": correlation_id},
        ):  # fmt: skip
            return dict(headers) | carrier()
    finally:
        context.detach(token)


@contextmanager
def continued(headers: Mapping[str, str] | None, name: str | None = None) -> Iterator[None]:
    """Work done under these trace headers (a span named `name`, if given)."""
    if not _on or not headers:
        yield
        return
    token = context.attach(propagate.extract(dict(headers)))
    try:
        if name is None:
            yield
        else:
            with TRACER.start_as_current_span(name):
                yield
    finally:
        context.detach(token)
