"""Bootstrap: the one place where Router's broker, database and handlers are wired."""

from __future__ import annotations

from pathlib import Path

from router import __doc__ as DESCRIPTION
from router.settings import RouterSettings
from shared.database import Database
from shared.service import Service, build_service

MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(settings: RouterSettings | None = None) -> Service:
    settings = settings or RouterSettings()
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    return build_service("router", settings, database, description=DESCRIPTION)
