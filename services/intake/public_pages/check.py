"""Where her referral stands, for a woman who gives her reference, date of birth and postcode
(any referral about her, whoever made it): in plain words, what happens next, her
appointment, the wait at her site, and a link to cancel her own request. Details that do not
match get one kind answer, after the same time, so the page says nothing about whether a
referral exists; posts are checked and rate-limited in the same count as cancelling."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from intake import views
from intake.public_pages.proof_form import proof_posted
from intake.public_pages.timing import answered_after
from intake.web.pages import Pages
from shared.clock import LONDON
from shared.database import Database
from shared.directory import Directory
from shared.logging import get_logger

log = get_logger(__name__)
MODES = {"in-person": "in person", "telephone": "by telephone", "video": "by video call"}


def check_page(pages: Pages, database: Database, directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/self-referral", include_in_schema=False)

    @router.get("/check", response_class=HTMLResponse)
    async def form(request: Request) -> Response:
        return pages.render(request, "check.html", values={}, errors={})

    @router.post("/check", response_class=HTMLResponse)
    async def check(request: Request) -> Response:
        asked, refused = await proof_posted(pages, request, "check.html")
        if refused is not None:
            return refused
        assert asked is not None
        async with answered_after():
            found = (
                await views.her_referral(database, directory, asked.proof)
                if asked.proof is not None
                else None
            )
        log.info("referral checked by her", matched=found is not None)
        if found is None:
            return pages.render(request, "check.html", 200, values={}, errors={}, missed=True)
        return pages.render(
            request, "check_answer.html", referral=found, london=LONDON, modes=MODES
        )

    return router
