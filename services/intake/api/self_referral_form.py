"""The self-referral web form: plain HTML that works without JavaScript.

On a valid submission it seals the submission to intake's public key, publishes it on the
self-referral topic (the same path other organisations' forms use) and shows the woman her
tracking reference. Storage happens when intake consumes the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from intake.adapters.self_referral_codec import encode
from intake.api.csrf import COOKIE, FIELD, CsrfTokens
from intake.api.form_fields import PREFERENCES, TEXT_FIELDS, anchor, form_errors, submission_data
from intake.api.form_pages import PAGES, FormPage
from intake.domain.tracking import is_valid_tracking_reference, new_tracking_reference
from shared.clock import today
from shared.contracts import SelfReferralSubmitted
from shared.logging import correlation, get_logger
from shared.submission import ReferralSubmission

log = get_logger(__name__)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
FORM_SOURCE = "intake-web-form"
Publish = Callable[[SelfReferralSubmitted], Awaitable[None]]


def self_referral_form(
    *, public_key: str, csrf_secret: bytes, rate_limit: str, publish: Publish
) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)
    tokens = CsrfTokens(csrf_secret)
    limiter, limit = MovingWindowRateLimiter(MemoryStorage()), parse(rate_limit)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        cookie, token = tokens.issue(request.cookies.get(COOKIE))
        response = TEMPLATES.TemplateResponse(
            request,
            template,
            {"csrf_token": token, "anchor": anchor, **context},
            status_code=status,
        )
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/self-referral",
        )
        response.headers["Cache-Control"] = "no-store"  # her answers never sit in a cache
        return response

    def notice(request: Request, status: int, title: str, message: str) -> Response:
        return render(request, "notice.html", status, title=title, message=message)

    def not_found(request: Request) -> Response:
        return notice(request, 404, "Page not found", "We could not find this page.")

    @router.get("", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        return render(request, "index.html", pages=list(PAGES.values()))

    @router.get("/submitted/{reference}", response_class=HTMLResponse)
    async def submitted(request: Request, reference: str) -> Response:
        if not is_valid_tracking_reference(reference):
            return not_found(request)
        return render(request, "submitted.html", reference=reference)

    @router.get("/{slug}", response_class=HTMLResponse)
    async def form(request: Request, slug: str) -> Response:
        page = PAGES.get(slug)
        if page is None:
            return not_found(request)
        return render(request, "form.html", page=page, values={}, preferences=[], errors=[])

    @router.post("/{slug}", response_class=HTMLResponse)
    async def submit(request: Request, slug: str) -> Response:
        page = PAGES.get(slug)
        if page is None:
            return not_found(request)
        client = request.client.host if request.client else "unknown"
        if not limiter.hit(limit, "self-referral", client):
            log.warning("self-referral form rate limited")
            return notice(
                request,
                429,
                "Please wait a moment",
                "We have had several forms from this device in a short time. "
                "Please wait a few minutes and try again.",
            )
        form_data = await request.form()
        if not tokens.valid(request.cookies.get(COOKIE), _text(form_data.get(FIELD))):
            return notice(
                request,
                403,
                "Please try again",
                "For your security this form timed out. Please go back, "
                "reload the page and send it again.",
            )
        values = {path: _text(form_data.get(path)) for path in TEXT_FIELDS}
        if len(page.services) == 1:
            values["service"] = page.services[0][0].value
        preferences = [_text(v) for v in form_data.getlist(PREFERENCES)]
        try:
            submission = ReferralSubmission.model_validate(
                submission_data(values, preferences), context={"today": today()}
            )
        except ValidationError as error:
            errors = form_errors(error)
            log.info("self-referral form errors", fields=[e["field"] for e in errors])
            return render(
                request,
                "form.html",
                422,
                page=page,
                values=values,
                preferences=preferences,
                errors=errors,
            )
        return await _send(page, submission)

    async def _send(page: FormPage, submission: ReferralSubmission) -> Response:
        correlation_id = str(uuid.uuid4())
        reference = new_tracking_reference()
        with correlation(correlation_id):
            event = encode(
                submission,
                public_key,
                source=FORM_SOURCE,
                correlation_id=correlation_id,
                referral_id=uuid.uuid4(),
                tracking_reference=reference,
            )
            await publish(event)
            log.info("self-referral form sent", page=page.slug, tracking_reference=reference)
        return RedirectResponse(f"/self-referral/submitted/{reference}", status_code=303)

    return router


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
