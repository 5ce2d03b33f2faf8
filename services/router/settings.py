"""Router's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.directory import DEFAULT_DIRECTORY
from shared.settings import ServiceSettings


class RouterDatabaseSettings(ServiceSettings):
    """Enough to reach the router's tables (the triage commands need no more)."""

    db_schema: str = Field(default="router", validation_alias="ROUTER_DB_SCHEMA")
    directory: Path = Field(
        default=DEFAULT_DIRECTORY,
        validation_alias="ROUTER_DIRECTORY",
        description="The service directory (YAML); read at start, refused whole if broken.",
    )


class RouterSettings(RouterDatabaseSettings):
    http_port: int = Field(default=8001, validation_alias="ROUTER_HTTP_PORT")
    consumer_group: str = Field(default="router", validation_alias="ROUTER_CONSUMER_GROUP")
    relay_enabled: bool = Field(default=True, validation_alias="ROUTER_RELAY_ENABLED")
