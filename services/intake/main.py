"""Bootstrap: the one place where Intake's broker, database and handlers are wired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from intake import __doc__ as DESCRIPTION
from intake.adapters.referral_store import PostgresReferrals
from intake.api import openapi
from intake.api.auth import api_key_dependency
from intake.api.clinic_pages import clinic_pages
from intake.api.fhir import fhir_api
from intake.api.fhir_models import OperationOutcome
from intake.api.html_pages import Pages
from intake.api.lifecycle import lifecycle_api
from intake.api.operation_outcomes import FHIR_BASE, problem_as_outcome
from intake.api.problems import Problem, ProblemDetails, problem_response
from intake.api.referrals import referrals_api
from intake.api.security_headers import SecurityHeaders
from intake.api.self_cancel import self_cancel_page
from intake.api.self_referral_form import self_referral_form
from intake.api.unavailable import on_unexpected
from intake.handlers.decisions import decisions_router
from intake.handlers.self_referrals import self_referral_router
from intake.settings import IntakeSettings
from shared import topics
from shared.bars_mapping import load_mapping
from shared.contracts import SelfReferralSubmitted
from shared.database import Database
from shared.directory import load_directory
from shared.kafka import publish_event
from shared.rate_limits import RateLimits, parse_limit
from shared.sealed import derive_secret, public_key_of
from shared.service import Service, build_service


class SelfReferralKey(BaseModel):
    algorithm: str = Field(description="How a form seals a submission to this key.")
    public_key: str = Field(description="The X25519 public key, base64.")


MIGRATIONS = Path(__file__).parent / "migrations"
STATIC = Path(__file__).parent / "static"


def create_service(settings: IntakeSettings | None = None) -> Service:
    settings = settings or IntakeSettings()  # from the environment
    database = Database(str(settings.database_url), settings.db_schema, MIGRATIONS)
    private_key = settings.private_key.get_secret_value()
    public_key = public_key_of(private_key)

    rate_limits = RateLimits(database, derive_secret(private_key, "rate-limit-keys"))

    directory = load_directory(settings.directory)
    mapping = load_mapping(settings.bars_mapping)
    api_key = api_key_dependency(database, rate_limits, parse_limit(settings.failed_key_limit))

    def unit_of_work() -> PostgresReferrals:
        return PostgresReferrals(database.pool)

    service = build_service(
        "intake",
        settings,
        database,
        feature_routers=[
            self_referral_router(settings, unit_of_work),
            decisions_router(settings, unit_of_work),
        ],
        http_routers=[
            referrals_api(database, unit_of_work, api_key, settings.max_body_bytes),
            lifecycle_api(database, unit_of_work, directory, api_key, settings.max_body_bytes),
            fhir_api(database, unit_of_work, directory, mapping, api_key, settings.max_body_bytes),
        ],
        relay_outbox=settings.relay_enabled,
        description=DESCRIPTION or "",
    )
    self_referral_topic = topics.SELF_REFERRAL_SUBMITTED.qualified(settings.kafka_topic_prefix)

    async def publish_self_referral(event: SelfReferralSubmitted) -> None:
        assert event.referral_id is not None
        await publish_event(
            service.broker, event, key=str(event.referral_id), topic=self_referral_topic
        )

    app = service.app
    pages = Pages(
        derive_secret(private_key, "csrf"),
        rate_limits,
        parse_limit(settings.form_rate_limit),
        settings.max_form_bytes,
    )
    app.include_router(self_cancel_page(pages, unit_of_work, directory))  # before /{slug}
    clinic_forms = Pages(
        derive_secret(private_key, "clinic-csrf"),  # no token of the public pages passes here
        rate_limits,
        parse_limit(settings.failed_key_limit),  # sign-in attempts, like wrong API keys
        settings.max_form_bytes,
        path="/clinic",
    )
    app.include_router(
        clinic_pages(
            clinic_forms,
            database,
            unit_of_work,
            directory,
            derive_secret(private_key, "clinic-session"),
        )
    )
    app.include_router(
        self_referral_form(pages=pages, public_key=public_key, publish=publish_self_referral)
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/v1/self-referral-key", tags=["self-referral"])
    async def self_referral_key() -> SelfReferralKey:
        """The public key other organisations' forms seal submissions to."""
        return SelfReferralKey(algorithm="libsodium-sealed-box-x25519", public_key=public_key)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> JSONResponse:
        if request.url.path.startswith(FHIR_BASE):
            return problem_as_outcome(problem)
        return problem_response(problem)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer quotes the input back; ours names the fields only.
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": _plain(e)}
            for e in error.errors()
        ]
        problem = Problem(422, "The request is not valid.", errors)
        if request.url.path.startswith(FHIR_BASE):
            return problem_as_outcome(problem)
        return problem_response(problem)

    @app.get("/clinic/", include_in_schema=False)
    async def clinic_with_slash() -> RedirectResponse:
        # Starlette's own slash redirect names the request's Host; this one names no host.
        return RedirectResponse("/clinic", status_code=308)

    app.add_exception_handler(Exception, on_unexpected)
    app.add_middleware(SecurityHeaders)
    openapi.install(app, directory, ProblemDetails, OperationOutcome)

    return service


def _plain(error: Any) -> str:
    """Pydantic's message, except where it would quote the input (a malformed UUID's
    message names its first wrong character)."""
    if str(error["type"]).startswith("uuid_"):
        return "Not a UUID."
    return str(error["msg"])
