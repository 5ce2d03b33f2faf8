"""A woman cancels her own self-referral from the self-referral pages: her reference, date
of birth and postcode must all match. The answer is the same whether or not a referral was
found and cancelled, and comes after the same time, so the page cannot tell anyone whether a
referral exists; posts are checked (size, CSRF, Origin) and rate-limited per client, in the
same count as the page where she checks her referral (`check`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from intake import service_layer
from intake.ports import UnitOfWork
from intake.public_pages.proof_form import proof_posted
from intake.public_pages.timing import answered_after
from intake.web.pages import Pages
from shared.directory import Directory


def self_cancel_page(pages: Pages, unit_of_work: UnitOfWork, directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)

    @router.get("/cancel", response_class=HTMLResponse)
    async def form(request: Request) -> Response:
        return pages.render(request, "cancel.html", values={}, errors={})

    @router.post("/cancel", response_class=HTMLResponse)
    async def cancel(request: Request) -> Response:
        asked, refused = await proof_posted(pages, request, "cancel.html")
        if refused is not None:
            return refused
        assert asked is not None
        async with answered_after():  # a cancellation does more work than a miss
            if asked.proof is not None:
                await service_layer.cancel_for_her(unit_of_work, directory, asked.proof)
        return pages.notice(
            request,
            200,
            "Thank you",
            "If these details match a request you sent, we have cancelled it and will "
            "confirm this in the way you asked us to contact you. If you do not hear from "
            "us, please check the details and try again.",
        )

    return router
