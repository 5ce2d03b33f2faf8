"""Bootstrap: the one place where Notifier's broker, database and handlers are wired."""

from __future__ import annotations

from pathlib import Path

from notifier import __doc__ as DESCRIPTION
from notifier.settings import NotifierSettings
from shared.database import Database
from shared.service import Service, build_service

MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(settings: NotifierSettings | None = None) -> Service:
    settings = settings or NotifierSettings()
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    return build_service("notifier", settings, database, description=DESCRIPTION)
