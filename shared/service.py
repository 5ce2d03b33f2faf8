"""What every service's bootstrap shares: FastAPI app, Kafka broker, database, health.

One broker per app (FastStream's FastAPI KafkaRouter); feature routers are included into it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaRouter as KafkaFeatureRouter
from faststream.kafka.fastapi import KafkaRouter
from prometheus_client import make_asgi_app

from shared.database import Database
from shared.kafka import bootstrap_list, broker_options
from shared.logging import get_logger
from shared.metrics import REGISTRY
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings

log = get_logger(__name__)


@dataclass
class Service:
    name: str
    settings: ServiceSettings
    database: Database
    kafka: KafkaRouter
    app: FastAPI

    @property
    def broker(self) -> Any:
        return self.kafka.broker


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
    them publishes the service's outbox. `closing` (HTTP clients, say) run after the broker
    stops, before the database closes.
    """
    if relay_outbox:
        workers = (*workers, _relay)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Runs around the broker: the database is open before the first message arrives.
        await database.open()
        try:
            yield
        finally:
            for close in closing:
                await close()
            await database.close()

    kafka = KafkaRouter(
        bootstrap_list(settings.kafka_bootstrap_servers),
        lifespan=lifespan,
        schema_url="/asyncapi",
        **broker_options(client_id=name),
    )
    for feature_router in feature_routers:
        kafka.broker.include_router(feature_router)

    app = FastAPI(title=name, description=description, version="1")
    app.include_router(kafka)
    for http_router in http_routers:
        app.include_router(http_router)
    service = Service(name, settings, database, kafka, app)
    app.include_router(_health_router(service))
    app.mount("/metrics", make_asgi_app(REGISTRY))

    tasks: list[asyncio.Task[None]] = []

    @kafka.after_startup
    async def start_workers(_app: FastAPI) -> None:
        for worker in workers:
            tasks.append(asyncio.create_task(_supervised(worker, service)))

    @kafka.on_broker_shutdown
    async def stop_workers(_app: FastAPI) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()

    @kafka.after_startup
    async def announce(_app: FastAPI) -> None:
        subscribers: list[Any] = list(kafka.broker.subscribers)
        topics = sorted({getattr(t, "name", str(t)) for s in subscribers for t in s.topics})
        log.info(
            "connected and idle",
            kafka=settings.kafka_bootstrap_servers,
            postgres=await database.server_version(),
            schema=database.schema,
            subscribed=topics,
        )

    return service


async def _relay(service: Service) -> None:
    database = service.database
    await OutboxRelay(
        database.pool,
        service.broker,
        database.schema,
        topic_prefix=service.settings.kafka_topic_prefix,
    ).run()


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
