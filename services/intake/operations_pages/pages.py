"""The operations pages: the same sign-in (each person as herself, with the operations role),
CSRF and refusal rules as the clinic's. The overdue list is intake's read model; dead letters
are read from their topics and replayed through `DeadLetterDesk`; an erasure is the same use
case as `referrals erase`. Each action is recorded under the person's id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import views
from intake.domain.staff import Staff
from intake.ports import DeadLetterDesk, UnitOfWork
from intake.service_layer import NotFound
from intake.service_layer.dead_letters import replay_dead_letter
from intake.service_layer.retention import StillActive, erase_on_request
from intake.web.pages import Pages, first
from intake.web.staff_sign_in import StaffDoor, StaffSessions
from shared.database import Database
from shared.dead_letters import ReplayRefused, refusal_of
from shared.logging import get_logger

log = get_logger(__name__)

DOOR = StaffDoor("/operations", "operations_base.html", "the operations pages", "operations")
DONE = {
    "replayed": "Dead letter sent back to its topic. It leaves nothing twice: what was done "
    "before is not done again.",
    "erased": "Her details are erased. What happened to the referral is kept.",
    "already": "Her details were erased before: nothing more to do.",
}


def operations_pages(
    pages: Pages,
    database: Database,
    unit_of_work: UnitOfWork,
    desk: DeadLetterDesk,
    sessions: StaffSessions,
) -> APIRouter:
    router = APIRouter(prefix="/operations", include_in_schema=False)
    sessions.add_sign_out(router, pages)

    async def overview(request: Request, staff: Staff, status: int = 200, **shown: Any) -> Response:
        async with database.pool.acquire() as conn:
            overdue = await views.overdue(conn)
        try:
            letters = [(topic, letter, refusal_of(letter)) for topic, letter in await desk.kept()]
            unread = False
        except Exception as error:  # the page still shows the rest; the log says why
            log.warning("dead letters unreadable", error=type(error).__name__)
            letters, unread = [], True
        context = {"error": None, "error_field": None, "values": {}, "done": None} | shown
        return pages.render(
            request, "operations.html", status, staff=staff, overdue=overdue,
            letters=letters, letters_unread=unread, **context,
        )  # fmt: skip

    @router.get("", response_class=HTMLResponse)
    async def home(request: Request, done: str = "") -> Response:
        staff = await sessions.who(request, pages, DOOR)
        if not isinstance(staff, Staff):
            return staff
        return await overview(request, staff, done=DONE.get(done))

    @router.post("/replay", response_class=HTMLResponse)
    async def replay(request: Request) -> Response:
        acting = await sessions.acting(request, pages, DOOR)
        if not isinstance(acting, tuple):
            return acting
        staff, fields = acting
        letter, reason = first(fields, "dead_letter"), first(fields, "reason")[:2000]
        try:
            event_id = UUID(letter)
        except ValueError:
            return await overview(request, staff, 422, error="Choose a dead letter to replay",
                                  error_field="dead-letters")  # fmt: skip
        field = f"reason-{event_id}"
        if not reason.strip():
            return await overview(request, staff, 422, error="Enter why it can be replayed now",
                                  error_field=field)  # fmt: skip
        try:
            await replay_dead_letter(
                desk, unit_of_work, event_id,
                by=staff.person_id, reason=reason, now=datetime.now(UTC),
            )  # fmt: skip
        except ReplayRefused as cannot:
            return await overview(request, staff, 422, error=f"It cannot be replayed: {cannot}",
                                  error_field=field, values={field: reason})  # fmt: skip
        return RedirectResponse("/operations?done=replayed", status_code=303)

    @router.post("/erase", response_class=HTMLResponse)
    async def erase(request: Request) -> Response:
        acting = await sessions.acting(request, pages, DOOR)
        if not isinstance(acting, tuple):
            return acting
        staff, fields = acting
        typed = {name: given[0] for name, given in fields.items() if given}
        reference, reason = first(fields, "reference")[:100], first(fields, "reason")[:2000]
        force = first(fields, "force") == "yes"

        async def again(error: str, field: str) -> Response:
            return await overview(request, staff, 422, error=error, error_field=field, values=typed)

        if not reference.strip():
            return await again("Enter the referral's tracking reference", "reference")
        if not reason.strip():
            return await again("Enter why her details are to be erased", "erase-reason")
        try:
            erased = await erase_on_request(
                unit_of_work, reference, by=staff.person_id, reason=reason,
                now=datetime.now(UTC), force=force,
            )  # fmt: skip
        except NotFound:
            return await again("No referral has this reference", "reference")
        except StillActive as active:
            return await again(
                f"This referral is still {active.state.value.replace('-', ' ')}: her details "
                "may be needed to tell her what happens. To erase them even so, tick the box "
                "and say why",
                "force",
            )
        done = "already" if erased.already else "erased"
        return RedirectResponse(f"/operations?done={done}", status_code=303)

    return router
