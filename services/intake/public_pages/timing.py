"""Her proof pages answer after the same time whatever they found: a match does more work
than a miss, so every answer waits until the same moment and its timing says nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

ANSWER_AFTER_SECONDS = 0.5  # well above a lookup's or a cancellation's own time (a few ms)
PROOF_BUCKET = "self-referral-proof"  # one rate-limit count for checking and cancelling


@asynccontextmanager
async def answered_after(seconds: float = ANSWER_AFTER_SECONDS) -> AsyncIterator[None]:
    started = time.monotonic()
    yield
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
