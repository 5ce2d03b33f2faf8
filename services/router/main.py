"""Bootstrap: the one place where Router's broker, database and handlers are wired."""

from __future__ import annotations

from pathlib import Path

from router import __doc__ as DESCRIPTION
from router.adapters.decision_store import PostgresDecisions
from router.handlers.lifecycle import lifecycle_router
from router.handlers.received import received_router
from router.handlers.triage import triage_router
from router.settings import RouterSettings
from shared.database import Database
from shared.directory import load_directory
from shared.logging import get_logger
from shared.service import Service, build_service

MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


def create_service(settings: RouterSettings | None = None) -> Service:
    """The directory is loaded here, whole, before anything connects: a broken one stops
    the start with its error (DirectoryError), and an edited one is picked up on restart."""
    settings = settings or RouterSettings()
    directory = load_directory(settings.directory)
    log.info(
        "directory loaded", path=str(settings.directory), rules_version=directory.rules_version
    )
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)

    def unit_of_work() -> PostgresDecisions:
        return PostgresDecisions(database.pool)

    return build_service(
        "router",
        settings,
        database,
        feature_routers=[
            received_router(settings, unit_of_work, directory),
            lifecycle_router(settings, unit_of_work),
            triage_router(settings, unit_of_work, directory),
        ],
        relay_outbox=settings.relay_enabled,
        description=DESCRIPTION or "",
    )
