"""Delivery receipts written together. Notify posts one receipt per message; a statement and
a commit for each cost more than the rest of the receipt's handling, so receipts that arrive
while a write is in flight wait for it and go together in the next one: under load a
statement carries many, and a receipt alone is written at once. Each request still waits
for its own receipt to be written before it answers (Notify retries one that failed)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from notifier.adapters import notification_store
from shared.database import Database

Pending = tuple[UUID, str, "asyncio.Future[bool]"]


class ReceiptWriter:
    def __init__(self, database: Database, *, most: int = 500) -> None:
        self._database, self._most = database, most
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, reference: UUID, status: str) -> bool:
        """Write one receipt (with whichever arrive with it); whether the message is ours."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((reference, status, written))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await written

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._most], self._pending[self._most :]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[Pending]) -> None:
        try:
            async with self._database.pool.acquire() as conn:
                ours = await notification_store.record_deliveries(
                    conn, [(reference, status) for reference, status, _ in batch]
                )
        except Exception as error:  # each waiting request answers with the fault
            for _, _, written in batch:
                if not written.done():
                    written.set_exception(error)
            return
        for reference, _, written in batch:
            if not written.done():
                written.set_result(reference in ours)
