"""Bootstrap: the one place where Notifier's broker, database, providers and handlers are wired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from notifier import __doc__ as DESCRIPTION
from notifier.adapters.bars_provider import BarsProvider
from notifier.adapters.fallback_store import PostgresFallbacks
from notifier.adapters.intake_client import IntakeClient
from notifier.adapters.notification_store import PostgresNotifications
from notifier.adapters.notify_provider import NotifyProvider
from notifier.adapters.provider_budget import ProviderBudget
from notifier.adapters.smtp_provider import SmtpProvider
from notifier.adapters.webhook_provider import WebhookProvider
from notifier.api.callbacks import callbacks_api
from notifier.domain.templates import load_templates
from notifier.handlers.receipts import fallback_worker
from notifier.handlers.told import told_router
from notifier.service_layer import Notifier, Retry
from notifier.settings import NotifierSettings
from shared.bars_mapping import load_mapping
from shared.database import Database
from shared.directory import load_directory
from shared.rate_limits import MIGRATIONS as RATE_LIMIT_MIGRATIONS
from shared.rate_limits import RateLimits
from shared.service import Service, build_service

# The rate-limit table (shared), then the service's own.
MIGRATIONS = (RATE_LIMIT_MIGRATIONS, Path(__file__).parent / "migrations")


@dataclass(frozen=True)
class Parts:
    """The notifier's working parts over one database: what a batch, a fallback pass or a
    test of either needs, and the clients to close after."""

    notifier: Notifier
    intake: IntakeClient
    closing: tuple[Callable[[], Awaitable[None]], ...]


def notifier_parts(settings: NotifierSettings, database: Database) -> Parts:
    directory = load_directory(settings.directory)
    sites = {site.id: site.webhook for s in directory.services.values() for site in s.sites}
    intake = IntakeClient(settings.intake_url, settings.intake_api_key.get_secret_value())
    notify = NotifyProvider(
        settings.notify_api_key.get_secret_value(),
        settings.notify_base_url,
        settings.notify_sms_template_id,
        settings.notify_email_template_id,
        settings.notify_letter_template_id,
    )
    webhook = WebhookProvider(
        settings.webhook_secret.get_secret_value().encode(),
        {site: url for site, url in sites.items() if url},
        settings.clinic_webhook_url,
        per_clinic=settings.webhook_per_clinic,
    )
    systems = BarsProvider(settings.webhook_secret.get_secret_value().encode())
    notifier = Notifier(
        store=PostgresNotifications(database, settings.receipt_wait_minutes * 60),
        intake=intake,
        notify=notify,
        webhook=webhook,
        smtp=SmtpProvider(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            connections=settings.smtp_connections,
        ),
        directory=directory,
        templates=load_templates(),
        referral_link_base=settings.intake_public_url or settings.intake_url,
        retry=Retry(
            settings.max_attempts, settings.backoff_initial_seconds, settings.backoff_max_seconds
        ),
        lease_seconds=settings.lease_seconds,
        budget=ProviderBudget(
            RateLimits(database, b"provider-budgets"),
            settings.notify_per_minute,
            settings.notify_per_day,
        ),
        systems=systems,
        bars=load_mapping(settings.bars_mapping).own,
    )
    return Parts(notifier, intake, (intake.close, notify.close, webhook.close, systems.close))


def create_service(settings: NotifierSettings | None = None) -> Service:
    settings = settings or NotifierSettings()  # from the environment
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    parts = notifier_parts(settings, database)
    notifier, intake = parts.notifier, parts.intake

    service = build_service(
        "notifier",
        settings,
        database,
        feature_routers=[told_router(settings, notifier)],
        http_routers=[callbacks_api(database, settings.callback_token.get_secret_value())],
        relay_outbox=settings.relay_enabled,
        workers=[
            fallback_worker(
                PostgresFallbacks(database), notifier, intake, settings.fallback_interval_seconds
            )
        ],
        closing=parts.closing,
        description=DESCRIPTION or "",
    )
    return service
