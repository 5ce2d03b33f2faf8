"""The self-referral web form: plain HTML that works without JavaScript.

On a valid submission it seals the submission to intake's public key, publishes it on the
self-referral topic (the same path other organisations' forms use) and shows the woman her
tracking reference. Storage happens when intake consumes the event.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from intake.adapters.self_referral_codec import encode
from intake.domain.referral import accept_self_referral
from intake.domain.tracking import is_valid_tracking_reference, new_tracking_reference
from intake.public_pages.form_fields import (
    DATE_FIELDS,
    DATE_PARTS,
    FORM_ID,
    PREFERENCES,
    TEXT_FIELDS,
    dates_from_parts,
    form_errors,
    shown_back,
    submission_data,
)
from intake.public_pages.form_pages import PAGES, FormPage
from intake.web.pages import Pages, first
from shared.clock import today
from shared.contracts import SelfReferralSubmitted
from shared.logging import correlation, get_logger
from shared.submission import ReferralSubmission

log = get_logger(__name__)

FORM_SOURCE = "intake-web-form"
Publish = Callable[[SelfReferralSubmitted], Awaitable[None]]
_FORM_ID_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def self_referral_form(*, pages: Pages, public_key: str, publish: Publish) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)
    render, not_found = pages.render, pages.not_found

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
            **_example_dates(),
        )

    @router.post("/{slug}", response_class=HTMLResponse)
    async def submit(request: Request, slug: str) -> Response:
        page = PAGES.get(slug)
        if page is None:
            return not_found(request)
        fields, refused = await pages.accepted_post(request, "self-referral-form")
        if refused is not None:
            return refused
        assert fields is not None
        parts = {
            f"{field}-{part}": first(fields, f"{field}-{part}")
            for field in DATE_FIELDS
            for part in DATE_PARTS
        }
        values = {path: first(fields, path) for path in (*TEXT_FIELDS, FORM_ID)}
        values |= dates_from_parts(parts)
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
                values=shown_back(values | parts),
                preferences=preferences,
                errors=errors,
                **_example_dates(),
            )
        # The broker away: `intake.web.unavailable` shows her a kind page (503); nothing sent.
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


def _example_dates() -> dict[str, Any]:
    """Hints in the NHS's own form (day month year), near today: they never go stale."""

    def spoken(day: date) -> str:
        return f"{day.day} {day.month} {day.year}"

    return {
        "example_due": spoken(today() + timedelta(days=120)),
        "example_birth": spoken(today() - timedelta(days=60)),
    }
