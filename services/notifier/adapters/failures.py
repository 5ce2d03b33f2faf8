"""How a provider failed decides what happens next: retry (transient) or give up (permanent)."""

from __future__ import annotations


class TransientFailure(Exception):
    """Timeouts, 429, 5xx, a connection refused: worth another try after a pause."""


class PermanentFailure(Exception):
    """A 4xx or a refused address: trying again would fail the same way."""


class RateLimited(TransientFailure):
    """429: the provider asks us to slow down. Not a failed attempt: wait, then send."""

    def __init__(self, detail: str, wait_seconds: float) -> None:
        super().__init__(f"429: {detail}")
        self.wait_seconds = wait_seconds


def classify_status(status: int | None, detail: str, retry_after: str | None = None) -> Exception:
    if status == 429:
        wait = float(retry_after) if retry_after and retry_after.isdigit() else 5.0
        return RateLimited(detail, min(wait, 60.0))
    if status is None or status in (408, 425) or status >= 500:
        return TransientFailure(f"{status or 'no response'}: {detail}")
    return PermanentFailure(f"{status}: {detail}")
