"""Bootstrap: the one place where Intake's broker, database, doors and handlers are wired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, SecretStr
from starlette.middleware.sessions import SessionMiddleware

from intake import __doc__ as DESCRIPTION
from intake import audit_pages, clinic_pages, operations_pages, public_pages, triage_pages
from intake.adapters.referral_store import PostgresReferrals
from intake.api.lifecycle import lifecycle_api
from intake.api.referrals import referrals_api
from intake.audit_pages.pages import audit_pages as audit_pages_router
from intake.bars.outcomes import FHIR_BASE, FHIR_JSON, problem_as_outcome
from intake.bars.resources import OperationOutcome
from intake.bars.routes import fhir_api
from intake.clinic_pages.pages import clinic_pages as clinic_pages_router
from intake.handlers.clocks import clock_worker, retention_worker
from intake.handlers.decisions import decisions_router
from intake.handlers.self_referrals import self_referral_router
from intake.operations_pages.pages import operations_pages as operations_pages_router
from intake.public_pages.cancel import self_cancel_page
from intake.public_pages.check import check_page
from intake.public_pages.form import self_referral_form
from intake.settings import IntakeSettings
from intake.triage_pages.pages import triage_pages as triage_pages_router
from intake.web import openapi
from intake.web.keys import Keys, api_key_dependency
from intake.web.pages import STATIC, Pages
from intake.web.refusals import Refusals, as_page
from intake.web.security_headers import SecurityHeaders
from intake.web.staff_roles import load_staff_roles
from intake.web.staff_sign_in import (
    LOGIN_STATE_COOKIE,
    LOGIN_STATE_SECONDS,
    Provider,
    StaffSessions,
)
from intake.web.staff_sign_in import PATH as STAFF_PATH
from shared import topics
from shared.bars_mapping import load_mapping
from shared.clock import today
from shared.contracts import SelfReferralSubmitted
from shared.database import Database
from shared.dead_letters import KafkaDeadLetters
from shared.directory import load_directory
from shared.kafka import client_options, kafka_security, publish_event
from shared.logging import get_logger
from shared.rate_limits import MIGRATIONS as RATE_LIMIT_MIGRATIONS
from shared.rate_limits import RateLimits, parse_limit
from shared.sealed import derive_secret, public_key_of
from shared.service import Service, build_service
from shared.working_days import load_calendar

log = get_logger(__name__)


class SelfReferralKey(BaseModel):
    algorithm: str = Field(description="How a form seals a submission to this key.")
    public_key: str = Field(description="The X25519 public key, base64.")


# The rate-limit table (shared), then the service's own.
MIGRATIONS = (RATE_LIMIT_MIGRATIONS, Path(__file__).parent / "migrations")


def create_service(settings: IntakeSettings | None = None) -> Service:
    settings = settings or IntakeSettings()  # from the environment
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    private_key = settings.private_key.get_secret_value()
    public_key = public_key_of(private_key)

    rate_limits = RateLimits(database, derive_secret(private_key, "rate-limit-keys"))

    directory = load_directory(settings.directory)
    load_calendar(today().year)  # the promises' working days, before the first referral
    mapping = load_mapping(settings.bars_mapping)
    keys = Keys.over(
        api_key_dependency(
            database,
            rate_limits,
            parse_limit(settings.failed_key_limit),
            remember_seconds=settings.api_key_remember_seconds,
        )
    )

    def unit_of_work() -> PostgresReferrals:
        return PostgresReferrals(database.pool)

    service = build_service(
        "intake",
        settings,
        database,
        feature_routers=[
            self_referral_router(settings, unit_of_work),
            decisions_router(settings, unit_of_work, directory),
        ],
        http_routers=[
            referrals_api(database, unit_of_work, directory, keys, settings.max_body_bytes),
            lifecycle_api(database, unit_of_work, directory, keys, settings.max_body_bytes),
            fhir_api(database, unit_of_work, directory, mapping, keys, settings.max_body_bytes),
        ],
        relay_outbox=settings.relay_enabled,
        workers=[
            clock_worker(unit_of_work, directory.escalation, settings.clock_interval_seconds),
            retention_worker(
                unit_of_work, directory.retention, settings.retention_interval_seconds
            ),
        ],
        description=DESCRIPTION or "",
    )
    # Our own form's submissions join other organisations' on their topic (declared, so that
    # the AsyncAPI document and the chart's Kafka access show it).
    self_referrals = service.broker.publisher(
        topics.SELF_REFERRAL_SUBMITTED.qualified(settings.kafka_topic_prefix),
        schema=SelfReferralSubmitted,
        description=topics.SELF_REFERRAL_SUBMITTED.description,
    )

    async def publish_self_referral(event: SelfReferralSubmitted) -> None:
        assert event.referral_id is not None
        await publish_event(self_referrals, event, key=str(event.referral_id))

    app = service.app
    pages = Pages(
        derive_secret(private_key, "csrf"),
        rate_limits,
        parse_limit(settings.form_rate_limit),
        settings.max_form_bytes,
        path=public_pages.PATH,
        folder=public_pages.TEMPLATES,
    )
    app.include_router(self_cancel_page(pages, unit_of_work, directory))  # before /{slug}
    app.include_router(check_page(pages, database, directory))

    def staff_forms(door: str, templates: Path) -> Pages:
        """A staff door's pages: CSRF tokens of its own (no other door's token passes here),
        and sign-in attempts limited as wrong API keys are."""
        return Pages(
            derive_secret(private_key, f"{door.strip('/')}-csrf"),
            rate_limits,
            parse_limit(settings.failed_key_limit),
            settings.max_form_bytes,
            path=door,
            folder=templates,
        )

    clinic_forms = staff_forms(clinic_pages.PATH, clinic_pages.TEMPLATES)
    staff_sessions = StaffSessions(
        database,
        pages,
        derive_secret(private_key, "staff-session"),
        Provider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
        ),
        load_staff_roles(settings.staff_roles),
    )
    app.include_router(staff_sessions.router())
    app.include_router(
        clinic_pages_router(clinic_forms, database, unit_of_work, directory, staff_sessions)
    )
    triage_forms = staff_forms(triage_pages.PATH, triage_pages.TEMPLATES)
    app.include_router(
        triage_pages_router(triage_forms, database, unit_of_work, directory, staff_sessions)
    )
    operations_forms = staff_forms(operations_pages.PATH, operations_pages.TEMPLATES)
    desk = KafkaDeadLetters(
        settings.kafka_bootstrap_servers,
        settings.kafka_topic_prefix,
        client_options(kafka_security(settings, _replay_user(settings))),
    )
    app.include_router(
        operations_pages_router(operations_forms, database, unit_of_work, desk, staff_sessions)
    )
    audit_forms = staff_forms(audit_pages.PATH, audit_pages.TEMPLATES)
    app.include_router(audit_pages_router(audit_forms, database, staff_sessions))
    app.include_router(
        self_referral_form(pages=pages, public_key=public_key, publish=publish_self_referral)
    )
    if not (STATIC / "nhsuk" / "nhsuk-frontend.min.css").exists():
        log.warning(
            "the NHS design system is not built: the pages will lack their styles",
            fix="python -m devstack frontend",
        )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/v1/self-referral-key", tags=["self-referral"])
    async def self_referral_key() -> SelfReferralKey:
        """The public key other organisations' forms seal submissions to."""
        return SelfReferralKey(algorithm="libsodium-sealed-box-x25519", public_key=public_key)

    @app.get("/clinic/", include_in_schema=False)
    async def clinic_with_slash() -> RedirectResponse:
        # Starlette's own slash redirect names the request's Host; this one names no host.
        return RedirectResponse("/clinic", status_code=308)

    for door in (triage_pages.PATH, operations_pages.PATH, audit_pages.PATH):
        app.add_api_route(f"{door}/", _to(door), methods=["GET"], include_in_schema=False)

    app.add_middleware(SecurityHeaders)
    # The sign-in's own state (state, nonce, PKCE verifier), for 10 minutes; Lax, as the
    # provider's redirect back is a cross-site navigation. Staff sessions are not kept here.
    app.add_middleware(
        SessionMiddleware,
        secret_key=derive_secret(private_key, "staff-sign-in").hex(),
        session_cookie=LOGIN_STATE_COOKIE,
        max_age=LOGIN_STATE_SECONDS,
        same_site="lax",
        path=STAFF_PATH,
        https_only=not settings.local_mode,  # production is served over TLS; locally, http
    )
    Refusals(  # each door answers its own refusals; `/v1` and the rest as problem documents
        {
            FHIR_BASE: lambda _request, problem: problem_as_outcome(problem),
            public_pages.PATH: as_page,
            clinic_pages.PATH: as_page,
            triage_pages.PATH: as_page,
            operations_pages.PATH: as_page,
            audit_pages.PATH: as_page,
        }
    ).install(app)
    openapi.install(app, directory, [(FHIR_BASE, FHIR_JSON, OperationOutcome)])

    return service


def _to(door: str) -> Callable[[], Awaitable[RedirectResponse]]:
    """A door's path with a trailing slash, sent to the door (naming no host, unlike
    Starlette's own slash redirect)."""

    async def redirect() -> RedirectResponse:
        return RedirectResponse(door, status_code=308)

    return redirect


def _replay_user(settings: IntakeSettings) -> tuple[str, SecretStr] | None:
    """The operations page's own Kafka user, where one is set (the chart sets one)."""
    if settings.replay_kafka_username and settings.replay_kafka_password:
        return settings.replay_kafka_username, settings.replay_kafka_password
    return None
