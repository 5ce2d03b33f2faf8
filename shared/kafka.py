"""The Kafka broker as every process builds it (acks=all, an idempotent producer, the
correlation id bound to each handler's logs), and events published keyed by their referral.
Consuming is `shared.consumer`; dead letters `shared.dead_letters`."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram512
from pydantic import SecretStr

from shared import topics
from shared.contracts import Event
from shared.logging import correlation, get_logger
from shared.metrics import REGISTRY
from shared.settings import ServiceSettings

log = get_logger(__name__)

# How every producer writes: acks=all and idempotence, so that a retried send never writes a
# message twice nor loses one a leader had acknowledged.
PRODUCER_GUARANTEES: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "request_timeout_ms": 30_000,
}


class CorrelationIdMiddleware(BaseMiddleware):
    """Binds the message's correlation id to every log line its handler writes."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        with correlation(str(msg.correlation_id)):
            return await call_next(msg)


def broker_options(client_id: str, **overrides: Any) -> dict[str, Any]:
    """Production settings: the producer's guarantees, metrics, and no topic made by use."""
    options: dict[str, Any] = {
        **PRODUCER_GUARANTEES,
        "client_id": client_id,
        "middlewares": (
            CorrelationIdMiddleware,
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id),
        ),
        "logger": logging.getLogger(f"{client_id}.kafka"),
        # Topics are made where they are declared (`devstack topics`, the chart's KafkaTopics),
        # with their partitions and retention; a service never creates one, nor may its user.
        "allow_auto_create_topics": False,
    }
    options.update(overrides)
    return options


def kafka_security(
    settings: ServiceSettings, user: tuple[str, SecretStr] | None = None
) -> BaseSecurity | None:
    """How this process proves who it is to the brokers: nothing on a plaintext loopback;
    else TLS (checked against KAFKA_SSL_CAFILE) and SCRAM-SHA-512 as its own Kafka user, or as
    `user` (name, password) where one of its jobs has a user of its own."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    username, password = user or (settings.kafka_sasl_username, settings.kafka_sasl_password)
    assert username  # the settings refuse a secured broker without a user
    assert password
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    return SASLScram512(username, password.get_secret_value(), ssl_context=context, use_ssl=True)


def client_options(security: BaseSecurity | None) -> dict[str, Any]:
    """The same, as keyword arguments for aiokafka's own clients (producer, consumer, admin)."""
    return parse_security(security)


@asynccontextmanager
async def started_producer(
    bootstrap_servers: str, client_id: str, security: BaseSecurity | None
) -> AsyncIterator[AIOKafkaProducer]:
    """aiokafka's own producer, with the same guarantees as the broker's, for the outbox
    relay: it sends rows that are JSON already, and FastStream's `publish` cost it three
    times aiokafka's CPU per event (its codec, headers and middlewares). Started once Kafka
    answers (backed off while it does not), stopped after the block."""
    wait = 0.5
    while True:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_list(bootstrap_servers),
            client_id=client_id,
            **PRODUCER_GUARANTEES,
            **client_options(security),
        )
        try:
            await producer.start()
            break
        except Exception as error:
            await producer.stop()
            log.warning("producer not started", fault=type(error).__name__, wait=wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)
    try:
        yield producer
    finally:
        await producer.stop()


def traced_middlewares(client_id: str) -> tuple[Any, ...]:
    """The broker's middlewares with FastStream's OpenTelemetry one added (when tracing is on):
    a span for each publish and each batch, the trace context in the records' headers."""
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return (*broker_options(client_id)["middlewares"], KafkaTelemetryMiddleware())


def records_compiled() -> bool:
    """Whether aiokafka reads and writes record batches with its C extension (not its pure
    Python fallback, several times slower, which it takes silently when the extension is
    missing or AIOKAFKA_NO_EXTENSIONS is set)."""
    from aiokafka.record import default_records

    module: str = default_records.DefaultRecordBatch.__module__
    return module.startswith("aiokafka.record._crecords")


def bootstrap_list(bootstrap_servers: str) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS as the list FastStream needs: given one string it takes the
    whole of "a:9092,b:9092" for a single host and cannot connect to a cluster."""
    return [server.strip() for server in bootstrap_servers.split(",") if server.strip()]


def build_broker(bootstrap_servers: str, client_id: str, **overrides: Any) -> KafkaBroker:
    """A standalone broker (tools, tests) with the same settings as the services'."""
    return KafkaBroker(bootstrap_list(bootstrap_servers), **broker_options(client_id, **overrides))


def document_outbox_events(
    router: KafkaRouter,
    prefix: str,
    events: tuple[type[Event], ...],
    *,
    unions: tuple[tuple[topics.Topic, Any], ...] = (),
) -> None:
    """Declare the events the outbox relay publishes (it sends through the broker, by topic
    name), so that the service's AsyncAPI document lists them with their schemas; `unions`:
    a topic that carries several kinds, with their discriminated union."""
    for event in events:
        router.publisher(
            event.TOPIC.qualified(prefix), schema=event, description=event.TOPIC.description
        )
    for topic, union in unions:
        router.publisher(topic.qualified(prefix), schema=union, description=topic.description)


async def publish_events(
    bootstrap_servers: str,
    events: Sequence[Event],
    *,
    topic_prefix: str = "",
    client_id: str = "tools",
) -> None:
    """For tools, tests and benchmarks: publish events on their own topics (in a namespace),
    keyed by their referral when they have one, waiting for every acknowledgement once."""
    async with build_broker(bootstrap_servers, client_id) as broker:
        pending = [
            await publish_event(
                broker,
                event,
                key=str(getattr(event, "referral_id", None) or event.event_id),
                topic=event.TOPIC.qualified(topic_prefix),
                no_confirm=True,
            )
            for event in events
        ]
        await asyncio.gather(*pending)


def event_headers(event: Event) -> dict[str, str]:
    """Headers that let ops tools decode a message without reading its body first."""
    return {"event-type": type(event).__name__, "schema-version": str(event.schema_version)}


async def publish_event(publisher: Any, event: Event, key: str, **options: Any) -> Any:
    """Publish an event keyed by its referral (so a referral's events keep their order).

    `publisher` is a FastStream publisher, or a broker with `topic=` in `options`."""
    return await publisher.publish(
        event.model_dump(mode="json"),
        key=key.encode(),
        correlation_id=event.correlation_id,
        headers=event_headers(event),
        **options,
    )
