"""Router's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.directory import DEFAULT_DIRECTORY
from shared.settings import ServiceSettings


class RouterDatabaseSettings(ServiceSettings):
    """Enough to reach the router's tables (the triage commands need no more)."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", populate_by_name=True)

    db_schema: str = Field(default="router")
    directory: Path = Field(
        default=DEFAULT_DIRECTORY,
        description="The service directory (YAML); read at start, refused whole if broken.",
    )


class RouterSettings(RouterDatabaseSettings):
    http_port: int = Field(default=8001)
    consumer_group: str = Field(default="router")
    relay_enabled: bool = Field(default=True)
