"""Intake's settings, read from the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    http_port: int = Field(default=8000, validation_alias="INTAKE_HTTP_PORT")
    db_schema: str = Field(default="intake", validation_alias="INTAKE_DB_SCHEMA")
