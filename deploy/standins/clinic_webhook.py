"""A clinic's webhook receiver, verifying as docs/using.md tells clinics to:

1. recompute HMAC-SHA256(secret, "<X-Signature-Timestamp>.<raw body>") and compare it with
   `X-Signature` (after `v1=`) in constant time;
2. refuse a timestamp more than 300 seconds from now (a captured request cannot be replayed
   later);
3. accept each `X-Delivery-Id` once (a retried delivery is acknowledged, not processed twice).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Header, HTTPException, Request

from standins.recorder import Recorder
from standins.signatures import own_secret, verify


def clinic_webhook(recorder: Recorder, master_secret: bytes) -> APIRouter:
    router = APIRouter(prefix="/clinics", tags=["clinic webhook"])

    @router.post("/{site}", status_code=204)
    async def receive(
        site: str,
        request: Request,
        x_signature: str = Header(),
        x_signature_timestamp: str = Header(),
        x_delivery_id: str = Header(),
    ) -> None:
        fault = recorder.next_fault("webhook")
        if fault and fault.get("status"):
            raise HTTPException(int(fault["status"]), "injected fault")
        body = await request.body()
        # The clinic's own secret (`python -m notifier webhook-secret SITE` prints it).
        secret = own_secret(master_secret, f"clinic:{site}")
        verify(secret, x_signature, x_signature_timestamp, body)
        # A delivery id seen before is acknowledged and otherwise ignored.
        record = {"site": site, "delivery_id": x_delivery_id, "body": json.loads(body)}
        recorder.add_once("webhook", x_delivery_id, record)

    return router
