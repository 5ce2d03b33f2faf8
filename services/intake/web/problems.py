"""Error answers as RFC 9457 problem details, with each failing field named."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"


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
