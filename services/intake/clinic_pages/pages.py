"""The clinic's worklist as web pages, for the people in the clinic: plain HTML, no
JavaScript. Each clinician signs in as herself (`intake.web.staff_sign_in`); her roles say
which site's referrals she sees and acts on, and every step she takes names her. Every action
carries a CSRF token, and goes through the same use cases and rules as the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import service_layer, views
from intake.clinic_pages.steps import ATTEMPTS_SHOWN, DONE, MODES, StepError, read_step
from intake.domain.lifecycle import HELD, IllegalTransition
from intake.domain.staff import Staff
from intake.ports import UnitOfWork
from intake.service_layer import Actor, NotFound, UnknownReason
from intake.views import Viewer
from intake.web.pages import Pages
from intake.web.staff_sign_in import StaffDoor, StaffSessions
from shared.clock import LONDON
from shared.contracts import ReferralState
from shared.database import Database
from shared.directory import Directory
from shared.logging import get_logger

log = get_logger(__name__)

DOOR = StaffDoor("/clinic", "clinic_base.html", "the clinic's worklist", "clinician")
PAGE_SIZE = 25
# The worklist's tabs: each state in which the clinic holds a referral, in the journey's order.
TABS = {
    ReferralState.ROUTED: "To review",
    ReferralState.ACCEPTED: "To book",
    ReferralState.BOOKED: "Booked",
    ReferralState.DID_NOT_ATTEND: "Did not attend",
    ReferralState.ATTENDED: "Under our care",
}
assert set(TABS) == set(HELD)


def clinic_pages(
    pages: Pages,
    database: Database,
    unit_of_work: UnitOfWork,
    directory: Directory,
    sessions: StaffSessions,
) -> APIRouter:
    router = APIRouter(prefix="/clinic", include_in_schema=False)
    sessions.add_sign_out(router, pages)

    @router.get("", response_class=HTMLResponse)
    async def worklist(
        request: Request, state: str = "routed", after: str | None = None, done: str = ""
    ) -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        site = _site(staff)
        shown = next((s for s in TABS if s.value == state), ReferralState.ROUTED)
        cursor = _cursor(after)
        viewer = Viewer.clinic(site)
        page = await views.worklist(database, viewer, shown, PAGE_SIZE, cursor)
        return pages.render(
            request,
            "clinic_worklist.html",
            site=site,
            staff=staff,
            state=shown.value,
            referrals=page.referrals,
            following=page.next,
            tabs=TABS,
            done=DONE.get(done),
        )

    @router.get("/referrals/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, referral_id: UUID) -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        shown = await _details(staff, referral_id)
        if shown is None:
            return _not_ours(request)
        log.info("referral read by clinic", referral_id=str(referral_id), person_id=staff.person_id)
        return pages.render(request, "clinic_referral.html", error=None, **shown)

    @router.post("/referrals/{referral_id}/{action}", response_class=HTMLResponse)
    async def act(request: Request, referral_id: UUID, action: str) -> Response:
        acting = await sessions.acting(request, pages, DOOR)
        if not isinstance(acting, tuple):
            return acting
        staff, fields = acting
        site = _site(staff)
        actor = Actor("clinic", site, person=staff.person_id)
        try:
            asked = read_step(action, site, fields)
            if asked is None:
                return pages.not_found(request)
            await service_layer.act(
                unit_of_work,
                referral_id,
                asked.command,
                actor,
                directory,
                reason_code=asked.reason_code,
                particulars=asked.particulars,
            )
        except NotFound:
            return _not_ours(request)
        except (StepError, UnknownReason, IllegalTransition) as refused_action:
            shown = await _details(staff, referral_id)
            if shown is None:
                return _not_ours(request)
            status, field, why = _refusal(refused_action)
            typed = {name: given[0] for name, given in fields.items() if given}
            shown |= {"error_field": field, "action": action, "values": typed}
            return pages.render(request, "clinic_referral.html", status, error=why, **shown)
        return RedirectResponse(f"/clinic?done={action}", status_code=303)

    async def _details(staff: Staff, referral_id: UUID) -> dict[str, Any] | None:
        found = await views.referral(
            database,
            referral_id,
            Viewer.clinic(_site(staff)),
            directory,
            with_submission=True,
        )
        if found is None:
            return None
        return {
            "referral": found,
            "submission": found.submission or {},
            "history": found.history,
            "reasons": directory.return_reasons,
            "outcomes": directory.discharge_outcomes,
            "attempts_shown": ATTEMPTS_SHOWN,
            "modes": MODES,
            "london": LONDON,
            "site": _site(staff),
            "values": {},
            "error_field": None,
            "action": None,
        }

    def _not_ours(request: Request) -> Response:
        return pages.render(request, "clinic_not_found.html", 404)

    return router


def _site(staff: Staff) -> str:
    """The site whose referrals she sees (`who` let only a clinician at a site in)."""
    assert staff.site is not None
    return staff.site


def _refusal(error: Exception) -> tuple[int, str | None, str]:
    """The status, the field to correct (for the error summary's link) and the words."""
    match error:
        case StepError(field=field):
            return 422, field, str(error)
        case UnknownReason(field="reason_code"):
            return 422, "reason_code", "Choose a reason for returning it"
        case UnknownReason(field="outcome_code"):
            return 422, "outcome_code", "Choose how her care ended"
        case UnknownReason(field="referred_to"):
            return 422, "referred_to", "Enter the service she was referred on to"
        case UnknownReason(field=field):
            return 422, field, str(error)
        case IllegalTransition(current=current):
            return 409, None, f"This referral is now {current.value}: that cannot be done now."
    raise TypeError(f"no answer for {error!r}")  # pragma: no cover


def _cursor(after: str | None) -> views.Cursor | None:
    try:
        return views.parse_cursor(after)
    except ValueError:  # a mangled cursor shows the first page
        return None
