"""Delivery receipts written together (`shared.group_commit`): Notify posts one receipt per
message, and those arriving while one is written go in the next statement. Each request still
waits for its own receipt to be written before it answers (Notify retries one that failed)."""

from __future__ import annotations

from uuid import UUID

from notifier.adapters import notification_store
from shared.database import Database
from shared.group_commit import GroupCommit


class ReceiptWriter:
    def __init__(self, database: Database, *, most: int = 500) -> None:
        self._database = database
        self._together: GroupCommit[tuple[UUID, str], bool] = GroupCommit(self._write, most=most)

    async def record(self, reference: UUID, status: str) -> bool:
        """Write one receipt (with whichever arrive with it); whether the message is ours."""
        return await self._together.submit((reference, status))

    async def _write(self, receipts: list[tuple[UUID, str]]) -> list[bool]:
        async with self._database.pool.acquire() as conn:
            ours = await notification_store.record_deliveries(conn, receipts)
        return [reference in ours for reference, _ in receipts]
