"""Why a BaRS message is refused: each failing element with its BaRS error code, the FHIR
issue type and a FHIRPath `expression`, rendered as an OperationOutcome by the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# BaRS's receiver error codes (system https://fhir.nhs.uk/Codesystem/http-error-codes) by
# HTTP status, as in the specification's OperationOutcome examples.
BARS_CODES: dict[int, str] = {
    400: "REC_BAD_REQUEST",
    401: "REC_UNAUTHORIZED",
    403: "REC_FORBIDDEN",
    404: "REC_NOT_FOUND",
    406: "REC_NOT_ACCEPTABLE",
    408: "REC_TIMEOUT",
    409: "REC_CONFLICT",
    413: "REC_BAD_REQUEST",
    415: "REC_BAD_REQUEST",
    422: "REC_UNPROCESSABLE_ENTITY",
    429: "REC_TOO_MANY_REQUESTS",
    500: "REC_SERVER_ERROR",
    501: "REC_NOT_IMPLEMENTED",
    503: "REC_SERVICE_UNAVAILABLE",
}

IssueType = Literal[
    "structure",
    "required",
    "value",
    "invalid",
    "not-supported",
    "code-invalid",
    "duplicate",
    "conflict",
    "forbidden",
    "login",
    "not-found",
    "throttled",
    "too-long",
    "exception",
    "transient",
    "processing",
]


@dataclass(frozen=True)
class Issue:
    status: int
    type: IssueType
    diagnostics: str
    expression: str | None = None

    @property
    def bars_code(self) -> str:
        return BARS_CODES.get(self.status, "REC_SERVER_ERROR")


class Refused(Exception):
    """The message cannot be taken: nothing of it is stored. The answer's status is the first
    issue's (structure before content: 400 before 422)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.expression}: {i.type}" for i in issues))
        self.issues = sorted(issues, key=lambda i: i.status)

    @property
    def status(self) -> int:
        return self.issues[0].status


def bad(expression: str | None, diagnostics: str, type: IssueType = "invalid") -> Issue:
    return Issue(400, type, diagnostics, expression)


def unprocessable(expression: str | None, diagnostics: str) -> Issue:
    return Issue(422, "not-supported", diagnostics, expression)
