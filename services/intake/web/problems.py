"""Error answers as RFC 9457 problem details, with each failing field named."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"

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


class Problem(Exception):
    """Raised by a route; rendered by `problem_response`."""

    def __init__(
        self,
        status: int,
        title: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.errors, self.headers = status, title, errors, headers
        self.extra = extra or {}  # RFC 9457 extension members, such as `current_state`


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, object] = {**problem.extra, "type": "about:blank", "title": problem.title}
    body["status"] = problem.status
    if problem.errors is not None:
        body["errors"] = problem.errors
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


class FieldError(BaseModel):
    field: str = Field(description="The failing field, as a dotted path (`patient.postcode`).")
    message: str = Field(description="What is wrong, in plain words; never the value sent.")


class ProblemDetails(BaseModel):
    """Every refusal on `/v1` (RFC 9457, `application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    errors: list[FieldError] | None = Field(default=None, description="Each failing field.")
    current_state: str | None = Field(
        default=None, description="On a 409 for an action: where the referral stands."
    )
