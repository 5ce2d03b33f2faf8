"""Settings every service reads from the environment (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PostgresDsn, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.sealed import is_public_key


class ServiceSettings(BaseSettings):
    """Common settings; each service subclasses it for its own (prefixed) values.

    `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` are the one switch that points a service
    (and the test suite) at servers that already run.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Comma-separated host:port list of Kafka brokers.",
    )
    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql://postgres@127.0.0.1:15432/referrals"),
        validation_alias="DATABASE_URL",
        description="PostgreSQL DSN; each service keeps its tables in its own schema.",
    )
    kafka_topic_prefix: str = Field(
        default="",
        validation_alias="KAFKA_TOPIC_PREFIX",
        description="Prepended to every topic name: several systems (or tests) share a cluster.",
    )
    local_mode: bool = Field(
        default=False,
        validation_alias="LOCAL_MODE",
        description="True only on a developer's machine with the provider stand-ins "
        "(`devstack env` sets it): then, and only then, a secret may keep its local placeholder.",
    )
    outbox_keep_hours: float = Field(
        default=24,
        gt=0,
        validation_alias="OUTBOX_KEEP_HOURS",
        description="How long a published outbox row is kept (for an operator to look at) "
        "before retention deletes it; inbox rows are kept for the longest topic retention "
        "and a day (shared.retention).",
    )
    retention_interval_seconds: float = Field(
        default=3600,
        gt=0,
        validation_alias="RETENTION_INTERVAL_SECONDS",
        description="How often each process trims its outbox and inbox (and intake erases "
        "the details of referrals finished long enough ago).",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    trusted_proxies: str | None = Field(
        default=None,
        validation_alias="HTTP_TRUSTED_PROXIES",
        description="Comma-separated addresses of the reverse proxies whose X-Forwarded-For "
        "is believed; unset, the client address is the connection's own.",
    )
    dead_letter_public_key: str | None = Field(
        default=None,
        validation_alias="DEAD_LETTER_PUBLIC_KEY",
        description="X25519 public key (base64) that unreadable messages are sealed to in "
        "dead letters; operators hold its private key. Unset: such a letter keeps only a "
        "reference to the message (topic, partition, offset). Intake uses its own key.",
    )

    @field_validator("dead_letter_public_key", mode="before")
    @classmethod
    def _a_real_key_or_none(cls, value: object) -> object:
        """Empty means unset; anything else must be a key, so a typo fails at start rather
        than at the first dead letter."""
        if value in ("", None):
            return None
        if not isinstance(value, str) or not is_public_key(value):
            raise ValueError("not a base64 X25519 public key (python -m devstack keys)")
        return value


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from: its own name (those every
    service shares, such as `DATABASE_URL`), or the service's prefix and the field's name."""
    alias = settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    return str(settings.model_config.get("env_prefix") or "") + field.upper()
