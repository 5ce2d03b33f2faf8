"""Bootstrap: the one place where Intake's broker, database and handlers are wired."""

from __future__ import annotations

from pathlib import Path

from intake import __doc__ as DESCRIPTION
from intake.settings import IntakeSettings
from shared.database import Database
from shared.service import Service, build_service

MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(settings: IntakeSettings | None = None) -> Service:
    settings = settings or IntakeSettings()
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    return build_service("intake", settings, database, description=DESCRIPTION)
