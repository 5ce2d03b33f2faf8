"""The self-referral web form: plain HTML that works without JavaScript.

On a valid submission it seals the submission to intake's public key, publishes it on the
self-referral topic (the same path other organisations' forms use) and shows the woman her
tracking reference. Storage happens when intake consumes the event.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from limits import RateLimitItem
from pydantic import ValidationError

from intake.adapters.self_referral_codec import encode
from intake.api.csrf import COOKIE, FIELD, CsrfTokens
from intake.api.form_body import FormRefused, read_form
from intake.api.form_fields import (
    FORM_ID,
    PREFERENCES,
    TEXT_FIELDS,
    anchor,
    form_errors,
    shown_back,
    submission_data,
)
from intake.api.form_pages import PAGES, FormPage
from intake.domain.referral import accept_self_referral
from intake.domain.tracking import is_valid_tracking_reference, new_tracking_reference
from shared.clock import today
from shared.contracts import SelfReferralSubmitted
from shared.logging import correlation, get_logger
from shared.rate_limits import RateLimits
from shared.submission import ReferralSubmission

log = get_logger(__name__)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
FORM_SOURCE = "intake-web-form"
Publish = Callable[[SelfReferralSubmitted], Awaitable[None]]
_FORM_ID_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def self_referral_form(
    *,
    public_key: str,
    csrf_secret: bytes,
    rate_limits: RateLimits,
    rate_limit: RateLimitItem,
    max_form_bytes: int,
    publish: Publish,
) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)
    tokens = CsrfTokens(csrf_secret)

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

    def notice(
        request: Request,
        status: int,
        title: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = render(request, "notice.html", status, title=title, message=message)
        response.headers.update(headers or {})
        return response

    def not_found(request: Request) -> Response:
        return notice(request, 404, "Page not found", "We could not find this page.")

    def try_again(request: Request) -> Response:
        return notice(
            request,
            403,
            "Please try again",
            "For your security this form timed out. Please go back, "
            "reload the page and send it again.",
        )

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
        return render(
            request,
            "form.html",
            page=page,
            values={FORM_ID: str(uuid.uuid4())},
            preferences=[],
            errors=[],
        )

    @router.post("/{slug}", response_class=HTMLResponse)
    async def submit(request: Request, slug: str) -> Response:
        page = PAGES.get(slug)
        if page is None:
            return not_found(request)
        try:
            fields = await read_form(request, max_form_bytes)
        except FormRefused as refused:
            log.info("self-referral form refused", why=refused.status)
            return notice(request, refused.status, refused.title, refused.message)
        # Checked before anything is counted, so junk posts cannot lock real users out.
        if not same_origin(request) or not tokens.valid(
            request.cookies.get(COOKIE), first(fields, FIELD)
        ):
            return try_again(request)
        client = request.client.host if request.client else "unknown"
        wait = await rate_limits.hit("self-referral-form", client, rate_limit)
        if wait is not None:
            log.warning("self-referral form rate limited")
            return notice(
                request,
                429,
                "Please wait a moment",
                "We have had several forms from this device in a short time. "
                "Please wait a few minutes and try again.",
                headers={"Retry-After": str(wait)},
            )
        values = {path: first(fields, path) for path in (*TEXT_FIELDS, FORM_ID)}
        if len(page.services) == 1:
            values["service"] = page.services[0][0].value
        preferences = fields.get(PREFERENCES, [])
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
                values=shown_back(values),
                preferences=preferences,
                errors=errors,
            )
        # The broker away: `intake.api.unavailable` shows her a kind page (503); nothing sent.
        return await _send(page, submission, values[FORM_ID])

    async def _send(page: FormPage, submission: ReferralSubmission, form_id: str) -> Response:
        # The form's own id names the referral: the same form sent twice is one referral.
        seed = form_id if _FORM_ID_SHAPE.fullmatch(form_id) else str(uuid.uuid4())
        referral_id = uuid.uuid5(uuid.NAMESPACE_URL, f"self-referral-form:{seed}")
        reference = new_tracking_reference(referral_id.bytes)
        correlation_id = str(uuid.uuid4())
        with correlation(correlation_id):
            # The checks intake makes on consuming it, made now: she is never told that a
            # request was sent that intake would refuse.
            accept_self_referral(
                submission,
                source=FORM_SOURCE,
                correlation_id=correlation_id,
                today=today(),
                referral_id=referral_id,
                tracking_reference=reference,
            )
            event = encode(
                submission,
                public_key,
                source=FORM_SOURCE,
                correlation_id=correlation_id,
                referral_id=referral_id,
                tracking_reference=reference,
                event_id=referral_id,
            )
            await publish(event)
            log.info("self-referral form sent", page=page.slug, tracking_reference=reference)
        return RedirectResponse(f"/self-referral/submitted/{reference}", status_code=303)

    return router


def same_origin(request: Request) -> bool:
    """A browser names the page a post came from; one from another site is refused (the
    CSRF token is the main guard, this a second one)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers, and tools that send no Origin
    return urlsplit(origin).netloc == request.headers.get("host", "")


def first(fields: dict[str, list[str]], name: str) -> str:
    found = fields.get(name)
    return found[0] if found else ""
