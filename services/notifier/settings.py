"""Notifier's settings, read from the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    http_port: int = Field(default=8002, validation_alias="NOTIFIER_HTTP_PORT")
    db_schema: str = Field(default="notifier", validation_alias="NOTIFIER_DB_SCHEMA")
