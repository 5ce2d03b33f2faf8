"""Read a request body up to a limit, so an oversized one is refused before it is buffered."""

from __future__ import annotations

from fastapi import Request

from intake.api.problems import Problem


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes.")
