"""`POST /v1/notify/callback`: GOV.UK Notify's delivery receipts update the notification row.
Notify sends the bearer token configured for the service's callback.

A plain Starlette route, not a FastAPI one: Notify posts a receipt for every message, and
FastAPI's dependency solving and response encoding cost more than the rest of the handling
(the route is not part of our published API; Notify's own documentation fixes its shape)."""

from __future__ import annotations

import hmac
import json
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from notifier.adapters.receipt_writer import ReceiptWriter
from shared.database import Database
from shared.logging import get_logger

log = get_logger(__name__)


class DeliveryReceipt(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Notify sends more; we keep no address
    id: str
    reference: UUID
    status: str


def _refused(status: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status)


def callbacks_api(database: Database, token: str) -> APIRouter:
    receipts = ReceiptWriter(database)
    router = APIRouter()

    async def receipt(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            return _refused(401, "Unknown callback token.")
        try:
            body = DeliveryReceipt.model_validate_json(await request.body())
        except ValidationError as error:
            return _refused(422, json.loads(error.json(include_url=False, include_input=False)))
        known = await receipts.record(body.reference, body.status)
        log.info("delivery receipt", reference=str(body.reference), status=body.status, known=known)
        if not known:
            return _refused(404, "No notification with this reference.")
        return Response(status_code=204)

    router.add_route("/v1/notify/callback", receipt, methods=["POST"], include_in_schema=False)
    return router
