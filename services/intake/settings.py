"""Intake's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from intake.web.staff_roles import DEFAULT_STAFF_ROLES
from shared.bars_mapping import DEFAULT_MAPPING
from shared.directory import DEFAULT_DIRECTORY
from shared.settings import ServiceSettings, env_name

# The local Keycloak realm's (deploy/keycloak): refused unless LOCAL_MODE is on.
LOCAL_OIDC_CLIENT_SECRET = "local-oidc-client-secret"  # noqa: S105 - local realm only


class IntakeDatabaseSettings(ServiceSettings):
    """Enough to reach intake's tables (the key commands need no more)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    db_schema: str = Field(default="intake")


class IntakeSettings(IntakeDatabaseSettings):
    http_port: int = Field(default=8000)
    private_key: SecretStr = Field(
        description="X25519 key (base64) that opens sealed self-referrals; `python -m devstack "
        "keys` makes one. Forms seal to its public key, shown at /v1/self-referral-key.",
    )
    consumer_group: str = Field(default="intake")
    clock_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often intake looks for promises that ran out (the directory's "
        "`promises`); each fires once however many processes look.",
    )
    directory: Path = Field(
        default=DEFAULT_DIRECTORY,
        description="The service directory (YAML): its return and cancel reasons.",
    )
    bars_mapping: Path = Field(
        default=DEFAULT_MAPPING,
        description="How BaRS (FHIR) messages map to referral submissions (YAML).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Larger request bodies are refused with 413.",
    )
    form_rate_limit: str = Field(
        default="10/minute",
        description="Form submissions allowed per client address (`limits` notation).",
    )
    failed_key_limit: str = Field(
        default="30/minute",
        description="Requests with a missing or wrong API key allowed per client address; "
        "past it, 429 with Retry-After until the window ends (`limits` notation).",
    )
    api_key_remember_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A key found valid is not looked up again for this long, so a revoked "
        "key is refused by every process within it; 0 looks every request's key up.",
    )
    max_form_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="Larger self-referral form posts are refused before they are read.",
    )
    relay_enabled: bool = Field(
        default=True,
        description="Run the outbox relay in this process (off: another process relays).",
    )
    replay_kafka_username: str | None = Field(
        default=None,
        description="The Kafka user the operations page replays dead letters as (it writes "
        "to other services' topics, which intake's own user may not); unset: intake's own.",
    )
    replay_kafka_password: SecretStr | None = Field(default=None)
    oidc_issuer: str = Field(
        default="http://127.0.0.1:18080/realms/womens-health",
        description="The OpenID Connect provider staff sign in with (its issuer URL; CIS2 in "
        "production); its keys and endpoints come from its discovery document.",
    )
    oidc_client_id: str = Field(default="intake-staff")
    oidc_client_secret: SecretStr = Field(default=SecretStr(LOCAL_OIDC_CLIENT_SECRET))
    staff_roles: Path = Field(
        default=DEFAULT_STAFF_ROLES,
        description="Which of the provider's roles let staff do what (YAML).",
    )

    @field_validator("oidc_client_secret", mode="after")
    @classmethod
    def _no_placeholder_outside_local_mode(
        cls, value: SecretStr, info: ValidationInfo
    ) -> SecretStr:
        """The local realm's secret in production would let anyone act as our client."""
        if not info.data.get("local_mode") and value.get_secret_value() == LOCAL_OIDC_CLIENT_SECRET:
            raise ValueError(
                f"{env_name(cls, 'oidc_client_secret')} is still the local placeholder: set "
                "the client secret the provider gave (LOCAL_MODE=true only locally)"
            )
        return value
