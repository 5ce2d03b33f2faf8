"""Settings every service reads from the environment (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PostgresDsn, SecretStr, field_validator, model_validator
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
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias="KAFKA_SECURITY_PROTOCOL",
        description="PLAINTEXT on a developer's loopback; SASL_SSL (TLS, and SCRAM-SHA-512 as "
        "this service's own Kafka user) wherever the broker is shared.",
    )
    kafka_sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias="KAFKA_SASL_PASSWORD"
    )
    kafka_ssl_cafile: str | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_CAFILE",
        description="The CA certificate (PEM) the brokers' certificates are checked against; "
        "unset: the system's trusted CAs.",
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

    @model_validator(mode="after")
    def _a_user_for_a_secured_broker(self) -> ServiceSettings:
        if self.kafka_security_protocol == "SASL_SSL" and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD (this service's own Kafka user)"
            )
        return self


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from: its own name (those every
    service shares, such as `DATABASE_URL`), or the service's prefix and the field's name."""
    alias = settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    return str(settings.model_config.get("env_prefix") or "") + field.upper()
