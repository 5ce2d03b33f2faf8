"""How a provider failed decides what happens next: retry (transient) or give up (permanent)."""

from __future__ import annotations


class TransientFailure(Exception):
    """Timeouts, 429, 5xx, a connection refused: worth another try after a pause."""


class PermanentFailure(Exception):
    """A 4xx or a refused address: trying again would fail the same way."""


def classify_status(status: int | None, detail: str) -> Exception:
    if status is None or status in (408, 425, 429) or status >= 500:
        return TransientFailure(f"{status or 'no response'}: {detail}")
    return PermanentFailure(f"{status}: {detail}")
