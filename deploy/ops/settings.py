"""Where the ops command looks: the same switch as the services (environment variables)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class OpsSettings(ServiceSettings):
    intake_schema: str = Field(default="intake", validation_alias="INTAKE_DB_SCHEMA")
    router_schema: str = Field(default="router", validation_alias="ROUTER_DB_SCHEMA")
    notifier_schema: str = Field(default="notifier", validation_alias="NOTIFIER_DB_SCHEMA")
