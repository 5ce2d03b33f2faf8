"""A woman cancels her own self-referral from the self-referral pages: her reference, date
of birth and postcode must all match. The answer is the same whether or not a referral was
found and cancelled, and comes after the same time, so the page cannot tell anyone whether a
referral exists; posts are checked (size, CSRF, Origin) and rate-limited per client like the
form."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from intake import service_layer
from intake.ports import UnitOfWork
from intake.web.pages import Pages, first
from shared.directory import Directory

FIELDS = ("tracking_reference", "date_of_birth", "postcode")
ANSWER_AFTER_SECONDS = 0.5  # well above a cancellation's own time (a few ms)


def self_cancel_page(pages: Pages, unit_of_work: UnitOfWork, directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)

    @router.get("/cancel", response_class=HTMLResponse)
    async def form(request: Request) -> Response:
        return pages.render(request, "cancel.html", values={}, error=None)

    @router.post("/cancel", response_class=HTMLResponse)
    async def cancel(request: Request) -> Response:
        fields, refused = await pages.accepted_post(request, "self-referral-cancel")
        if refused is not None:
            return refused
        assert fields is not None
        values = {name: first(fields, name)[:100] for name in FIELDS}
        if not all(value.strip() for value in values.values()):
            return pages.render(
                request,
                "cancel.html",
                422,
                values=values,
                error="Enter your reference, your date of birth and your postcode",
            )
        started = time.monotonic()
        await service_layer.cancel_for_her(
            unit_of_work,
            directory,
            tracking_reference=values["tracking_reference"],
            date_of_birth=values["date_of_birth"],
            postcode=values["postcode"],
        )
        # Nor how long it took: a cancellation does more work than a miss, so every answer
        # waits until the same moment.
        await asyncio.sleep(max(0.0, ANSWER_AFTER_SECONDS - (time.monotonic() - started)))
        return pages.notice(
            request,
            200,
            "Thank you",
            "If these details match a request you sent, we have cancelled it and will "
            "confirm this in the way you asked us to contact you. If you do not hear from "
            "us, please check the details and try again.",
        )

    return router
