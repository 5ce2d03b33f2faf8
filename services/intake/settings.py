"""Intake's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.bars_mapping import DEFAULT_MAPPING
from shared.directory import DEFAULT_DIRECTORY
from shared.settings import ServiceSettings


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
    max_form_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="Larger self-referral form posts are refused before they are read.",
    )
    relay_enabled: bool = Field(
        default=True,
        description="Run the outbox relay in this process (off: another process relays).",
    )
