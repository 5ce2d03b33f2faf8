"""What every service's bootstrap shares: FastAPI app, Kafka broker, database, health.

One FastStream broker per app, started and stopped by the app's lifespan; feature routers are
included into it. Not FastStream's FastAPI integration: it is deprecated (moved to a package of
its own), and it serves `POST /asyncapi/try`, which publishes whatever it is sent to a real
topic, unauthenticated, on every service's HTTP port.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from faststream.kafka import KafkaBroker
from faststream.kafka import KafkaRouter as KafkaFeatureRouter
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_asgi_app

from shared import tracing
from shared.database import Database
from shared.kafka import (
    build_broker,
    kafka_security,
    records_compiled,
    started_producer,
    traced_middlewares,
)
from shared.logging import get_logger
from shared.metrics import REGISTRY
from shared.outbox import OutboxRelay
from shared.retention import purge_transport
from shared.settings import ServiceSettings

log = get_logger(__name__)
WORKERS_GRACE_SECONDS = 10.0  # for background workers to end once cancelled, at shutdown


@dataclass
class Service:
    name: str
    settings: ServiceSettings
    database: Database
    broker: KafkaBroker
    app: FastAPI

    def asyncapi(self) -> AsyncAPI:
        """The service's AsyncAPI document: its subscribers and publishers, with schemas."""
        return AsyncAPI(self.broker, title=self.name, version="1", description=self.app.description)


def build_service(
    name: str,
    settings: ServiceSettings,
    database: Database,
    *,
    feature_routers: Sequence[KafkaFeatureRouter] = (),
    http_routers: Sequence[APIRouter] = (),
    workers: Sequence[Callable[[Service], Awaitable[None]]] = (),
    relay_outbox: bool = False,
    closing: Sequence[Callable[[], Awaitable[None]]] = (),
    description: str = "",
) -> Service:
    """Wire broker, database and HTTP for one service; nothing connects until start-up.

    `workers` run as tasks from start-up until the broker stops; with `relay_outbox`, one of
    them publishes the service's outbox; another trims the outbox and inbox. `closing` (HTTP
    clients, say) run after the broker stops, before the database closes.
    """
    if relay_outbox:
        workers = (*workers, _relay)
    workers = (*workers, _trim_transport)
    traced = tracing.configure(name)  # off unless the OTEL_* variables ask for it
    broker = build_broker(
        settings.kafka_bootstrap_servers,
        client_id=name,
        security=kafka_security(settings),
        **({"middlewares": traced_middlewares(name)} if traced else {}),
    )
    for feature_router in feature_routers:
        broker.include_router(feature_router)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The database is open before the first message arrives, and closes after the last.
        await database.open()
        try:
            await broker.start()
            tasks = [asyncio.create_task(_supervised(worker, service)) for worker in workers]
            try:
                await _announce(service)
                yield
            finally:
                # Shutdown is bounded: an orchestrator kills a process that takes too long, and
                # a test must not hang on one. Each step is given its time, then passed over.
                for task in tasks:
                    task.cancel()
                if tasks:
                    await _within(WORKERS_GRACE_SECONDS, "background workers", asyncio.wait(tasks))
                await _within(15, "the Kafka broker", broker.stop())
        finally:
            for close in closing:
                await _within(5, "a client", close())
            if traced:
                tracing.shutdown()  # what is left of its spans, sent before it goes
            await database.close()

    # No slash redirects: Starlette builds their Location from the request's Host header.
    app = FastAPI(
        title=name,
        description=description,
        version="1",
        lifespan=lifespan,
        redirect_slashes=False,
        generate_unique_id_function=_operation_id,
    )
    for http_router in http_routers:
        app.include_router(http_router)
    if traced:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # Health and metrics are polled every few seconds: not worth a trace each.
        FastAPIInstrumentor.instrument_app(app, excluded_urls="/health/.*,/metrics")
    service = Service(name, settings, database, broker, app)
    app.include_router(_health_router(service))
    app.include_router(_asyncapi_router(service))
    app.add_route("/metrics", _metrics, include_in_schema=False)  # as scrapers ask for it
    app.mount("/metrics", make_asgi_app(REGISTRY))
    return service


async def _metrics(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _operation_id(route: APIRoute) -> str:
    """The route's own name (`submit`, `accept`), so a generated client reads as the API."""
    return route.name.rstrip("_")


async def _within(seconds: float, what: str, step: Awaitable[Any]) -> None:
    """One shutdown step, given `seconds`; logged and passed over when it takes longer."""
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.warning("shutdown step passed over", step=what, after_seconds=seconds)


async def _announce(service: Service) -> None:
    subscribers: list[Any] = list(service.broker.subscribers)
    topics = sorted({getattr(t, "name", str(t)) for s in subscribers for t in s.topics})
    log.info(
        "connected and idle",
        kafka=service.settings.kafka_bootstrap_servers,
        postgres=await service.database.server_version(),
        schema=service.database.schema,
        subscribed=topics,
        kafka_records_compiled=records_compiled(),
    )


def _asyncapi_router(service: Service) -> APIRouter:
    """The AsyncAPI document, read-only: a page for people, JSON and YAML for tools."""
    router = APIRouter(prefix="/asyncapi", tags=["asyncapi"], include_in_schema=False)

    @router.get("", summary="The AsyncAPI document as a page.", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(service.asyncapi().to_specification()))

    @router.get(".json", summary="The AsyncAPI document (JSON).")
    async def as_json() -> Response:
        document = service.asyncapi().to_specification().to_jsonable()
        return Response(json.dumps(document, indent=2), media_type="application/json")

    @router.get(".yaml", summary="The AsyncAPI document (YAML).")
    async def as_yaml() -> Response:
        return Response(service.asyncapi().to_specification().to_yaml(), media_type="text/yaml")

    return router


async def _relay(service: Service) -> None:
    database, settings = service.database, service.settings
    async with started_producer(
        settings.kafka_bootstrap_servers, f"{service.name}-outbox", kafka_security(settings)
    ) as producer:
        await OutboxRelay(
            database.pool, producer, database.schema, topic_prefix=settings.kafka_topic_prefix
        ).run()


async def _trim_transport(service: Service) -> None:
    """Retention of the outbox and inbox (`shared.retention`), at an interval."""
    settings = service.settings
    keep = timedelta(hours=settings.outbox_keep_hours)
    while True:
        await purge_transport(service.database, datetime.now(UTC), keep)
        await asyncio.sleep(settings.retention_interval_seconds)


async def _supervised(worker: Callable[[Service], Awaitable[None]], service: Service) -> None:
    try:
        await worker(service)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background worker stopped", worker=getattr(worker, "__name__", "?"))
        raise


def _health_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="The process is up.")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", summary="Kafka and PostgreSQL both answer.")
    async def ready(response: Response) -> dict[str, str]:
        kafka_ok = await service.broker.ping(timeout=2.0)
        db_ok = await service.database.is_ready()
        if not (kafka_ok and db_ok):
            response.status_code = 503
        return {"kafka": "ok" if kafka_ok else "down", "postgres": "ok" if db_ok else "down"}

    return router
