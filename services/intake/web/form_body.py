"""Read a form post within bounds: declared as a urlencoded form, no larger than the limit,
and parsed by the standard library only once it is whole (never a multipart upload)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from intake.web.body import read_limited
from intake.web.problems import Problem

MAX_FIELDS = 60  # the form has about 20; a post with many more is not from it


class FormRefused(Exception):
    """Why a post cannot be read, in words for the person who sent it."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status, self.title, self.message = status, title, message


async def read_form(request: Request, limit: int) -> dict[str, list[str]]:
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared != "application/x-www-form-urlencoded":
        raise FormRefused(
            415, "Please use the form", "Please send your request with the form on this page."
        )
    try:
        body = await read_limited(request, limit)
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except Problem as error:
        raise FormRefused(
            413,
            "Your answers are too long",
            "Please go back, shorten your answers and send the form again.",
        ) from error
    except ValueError as error:  # not UTF-8, or too many fields
        raise FormRefused(
            400, "Please use the form", "Please send your request with the form on this page."
        ) from error
