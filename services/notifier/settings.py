"""Notifier's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from shared.bars_mapping import DEFAULT_MAPPING
from shared.directory import DEFAULT_DIRECTORY
from shared.settings import ServiceSettings, env_name

# The official Notify client reads the service id and secret from the key's last 73 chars.
LOCAL_WEBHOOK_SECRET = "local-webhook-master-secret"  # noqa: S105 - local stand-ins only
LOCAL_NOTIFY_KEY = "local-00000000-0000-4000-8000-000000000001-00000000-0000-4000-8000-000000000002"
LOCAL_CALLBACK_TOKEN = "local-callback-token"  # noqa: S105 - local stand-ins only
# Secrets whose default works only against the stand-ins: refused unless LOCAL_MODE is on.
_PLACEHOLDERS = {
    "notify_api_key": LOCAL_NOTIFY_KEY,
    "webhook_secret": LOCAL_WEBHOOK_SECRET,
    "callback_token": LOCAL_CALLBACK_TOKEN,
}


class NotifierDatabaseSettings(ServiceSettings):
    """Enough to reach the notifier's tables (its operators' commands need no more, and no
    secret)."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    db_schema: str = Field(default="notifier")
    notify_per_minute: int = Field(
        default=3000,
        gt=0,
        description="Notify's messages per rolling minute for the API key, shared by every "
        "notifier process.",
    )
    notify_per_day: dict[str, int] = Field(
        default={"sms": 250_000, "email": 250_000, "letter": 20_000},
        description="Notify's daily limits per channel (JSON); past one, messages wait for "
        "the next day.",
    )


class NotifierSettings(NotifierDatabaseSettings):
    http_port: int = Field(default=8002)
    receipt_wait_minutes: float = Field(
        default=24 * 60,
        gt=0,
        description="How long an SMS or email to her waits for Notify's `delivered` receipt "
        "before the same message goes by her next channel (a failed receipt: at once). Our "
        "choice: a day, as Notify keeps retrying a phone that is off for up to 72 hours.",
    )
    fallback_interval_seconds: float = Field(
        default=30,
        gt=0,
        description="How often each notifier looks for messages due for their fallback.",
    )
    consumer_group: str = Field(default="notifier")
    relay_enabled: bool = Field(default=True)
    directory: Path = Field(default=DEFAULT_DIRECTORY)
    bars_mapping: Path = Field(
        default=DEFAULT_MAPPING,
        description="The BaRS mapping (YAML): the identifier systems our messages use.",
    )

    intake_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the notifier reads contact details (intake's API).",
    )
    intake_public_url: str | None = Field(
        default=None,
        description="Base of referral links sent to clinics and referrers (default intake_url).",
    )
    intake_api_key: SecretStr = Field(
        description="A key made with `python -m intake keys create --scope notifier`.",
    )

    notify_base_url: str = Field(
        default="https://api.notifications.service.gov.uk",
    )
    notify_api_key: SecretStr = Field(default=SecretStr(LOCAL_NOTIFY_KEY))
    notify_sms_template_id: str = Field(
        default="11111111-1111-4111-8111-111111111111",
        description="A Notify SMS template whose text is ((body)).",
    )
    notify_email_template_id: str = Field(
        default="22222222-2222-4222-8222-222222222222",
        description="A Notify email template: subject ((subject)), text ((body)).",
    )
    notify_letter_template_id: str = Field(
        default="33333333-3333-4333-8333-333333333333",
        description="A Notify letter template: heading ((subject)), text ((body)).",
    )
    callback_token: SecretStr = Field(
        default=SecretStr(LOCAL_CALLBACK_TOKEN),
        description="Bearer token Notify sends with delivery receipts.",
    )

    smtp_host: str = Field(default="127.0.0.1")
    smtp_port: int = Field(default=8025)
    smtp_sender: str = Field(default="referrals@womens-health.nhs.invalid")

    webhook_secret: SecretStr = Field(
        default=SecretStr(LOCAL_WEBHOOK_SECRET),
        description="Master secret; each clinic's signing secret is derived from it.",
    )
    clinic_webhook_url: str = Field(
        default="http://127.0.0.1:8090/clinics/{site}",
        description="Webhook URL for a site the directory gives none for; {site} is its id.",
    )

    webhook_per_clinic: int = Field(
        default=4,
        gt=0,
        description="Webhook deliveries in flight at once to one clinic's host.",
    )
    smtp_connections: int = Field(
        default=4,
        gt=0,
        description="Emails in flight at once to the SMTP relay.",
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=15,
        description="How long a claim on a notification lasts without renewal; renewed at every "
        "provider call (which times out after 10 s). Another notifier takes a row over only "
        "after it has ended.",
    )
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.5, gt=0)
    backoff_max_seconds: float = Field(default=30, gt=0)

    @field_validator(*_PLACEHOLDERS, mode="after")
    @classmethod
    def _no_placeholder_outside_local_mode(
        cls, value: SecretStr, info: ValidationInfo
    ) -> SecretStr:
        """A known secret in production would let anyone sign webhooks or post receipts."""
        name = str(info.field_name)
        if not info.data.get("local_mode") and value.get_secret_value() == _PLACEHOLDERS[name]:
            raise ValueError(
                f"{env_name(cls, name)} is still the local placeholder: set "
                "a real secret (LOCAL_MODE=true only with the local stand-ins)"
            )
        return value
