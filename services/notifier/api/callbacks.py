"""`POST /v1/notify/callback`: GOV.UK Notify's delivery receipts update the notification row.
Notify sends the bearer token configured for the service's callback."""

# No `from __future__ import annotations`: FastAPI evaluates these signatures.
import hmac
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from notifier.adapters.receipt_writer import ReceiptWriter
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)


class DeliveryReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Notify sends more; we keep no address
    id: str
    reference: UUID
    status: str


def callbacks_api(database: Database, token: str) -> APIRouter:
    receipts = ReceiptWriter(database)
    router = APIRouter(prefix="/v1/notify", tags=["delivery receipts"])
    bearer = HTTPBearer(auto_error=False)

    async def authorised(  # async: FastAPI runs a plain function on a worker thread
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if credentials is None or not hmac.compare_digest(credentials.credentials, token):
            raise HTTPException(401, "Unknown callback token.")

    @router.post("/callback", status_code=204, dependencies=[Depends(authorised)])
    async def receipt(body: DeliveryReceipt) -> None:
        known = await receipts.record(body.reference, body.status)
        log.info("delivery receipt", reference=str(body.reference), status=body.status, known=known)
        if not known:
            raise HTTPException(404, "No notification with this reference.")

    return router
