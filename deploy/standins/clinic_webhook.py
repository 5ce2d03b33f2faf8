"""A clinic's webhook receiver, verifying as docs/using.md tells clinics to:

1. recompute HMAC-SHA256(secret, "<X-Signature-Timestamp>.<raw body>") and compare it with
   `X-Signature` (after `v1=`) in constant time;
2. refuse a timestamp more than 300 seconds from now (a captured request cannot be replayed
   later);
3. accept each `X-Delivery-Id` once (a retried delivery is acknowledged, not processed twice).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request, Response

from standins.recorder import Recorder
from standins.signatures import own_secret, verify


def clinic_webhook(recorder: Recorder, master_secret: bytes) -> APIRouter:
    router = APIRouter()

    # A plain Starlette route: a benchmark delivers thousands, and the stand-in shares the
    # machine with the pipeline it measures.
    async def receive(request: Request) -> Response:
        fault = recorder.next_fault("webhook")
        if fault and fault.get("status"):
            raise HTTPException(int(fault["status"]), "injected fault")
        headers = request.headers
        needed = ("x-signature", "x-signature-timestamp", "x-delivery-id")
        if missing := [name for name in needed if name not in headers]:
            raise HTTPException(422, f"missing headers: {', '.join(missing)}")
        site = request.path_params["site"]
        body = await request.body()
        # The clinic's own secret (`python -m notifier webhook-secret SITE` prints it).
        secret = own_secret(master_secret, f"clinic:{site}")
        verify(secret, headers["x-signature"], headers["x-signature-timestamp"], body)
        # A delivery id seen before is acknowledged and otherwise ignored.
        delivery_id = headers["x-delivery-id"]
        record = {"site": site, "delivery_id": delivery_id, "body": json.loads(body)}
        recorder.add_once("webhook", delivery_id, record)
        return Response(status_code=204)

    router.add_route("/clinics/{site}", receive, methods=["POST"])
    return router
