"""Router's settings, read from the environment."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    http_port: int = Field(default=8001, validation_alias="ROUTER_HTTP_PORT")
    db_schema: str = Field(default="router", validation_alias="ROUTER_DB_SCHEMA")
