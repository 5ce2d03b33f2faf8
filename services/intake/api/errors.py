"""The JSON API's one mapping from what the use cases refuse to problem documents: a route
calls the service layer and lets its refusals rise; this route class answers them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from intake.domain.lifecycle import IllegalTransition
from intake.domain.referral import NotYourOrganisation
from intake.ports import IdempotencyConflict
from intake.service_layer import NotFound, UnknownReason
from intake.web.problems import Problem

# The answers every `/v1` route may give, as OpenAPI documents them.
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or a key that is unknown or revoked."},
    403: {"description": "The key's organisation, or kind, may not do this."},
    404: {"description": "No such referral for this key."},
    409: {
        "description": "A conflict: Idempotency-Key reused for another body, or an action "
        "not allowed where the referral stands (`current_state` says where)."
    },
    413: {"description": "The body is larger than the limit."},
    415: {"description": "The body is not declared as application/json."},
    422: {"description": "Invalid: every failing field, with a plain message."},
}

REFUSED = (NotFound, UnknownReason, IllegalTransition, IdempotencyConflict, NotYourOrganisation)


def problem_for(error: Exception) -> Problem:
    match error:
        case NotFound():
            return Problem(404, "No referral with this id is yours to see.")
        case UnknownReason(field=field):
            errors = [{"field": field, "message": str(error)}]
            return Problem(422, "The request is not valid.", errors)
        case IllegalTransition(why=why, current=current):
            return Problem(409, why, extra={"current_state": current.value})
        case IdempotencyConflict():
            return Problem(409, str(error))
        case NotYourOrganisation():
            errors = [{"field": "referrer.organisation_code", "message": str(error)}]
            return Problem(403, "The referral is not from this key's organisation.", errors)
    raise TypeError(f"no answer for {error!r}")  # pragma: no cover


class RefusingRoute(APIRoute):
    """A route whose use-case refusals become problem documents (`problem_for`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def refusing(request: Request) -> Response:
            try:
                return await handler(request)
            except REFUSED as error:
                raise problem_for(error) from error

        return refusing
