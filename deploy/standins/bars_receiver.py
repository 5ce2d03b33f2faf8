"""A referring organisation's BaRS `$process-message`, verifying our messages as
docs/bars/README.md tells senders to: the signature (with the endpoint's secret, derived as
`python -m notifier bars-secret URL` prints it), a fresh timestamp, a valid FHIR message
Bundle, and each `X-Delivery-Id` once."""

from __future__ import annotations

import json

from fastapi import APIRouter, Header, HTTPException, Request
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from standins.recorder import Recorder
from standins.signatures import own_secret, verify


def bars_receiver(recorder: Recorder, master_secret: bytes) -> APIRouter:
    router = APIRouter(prefix="/bars", tags=["BaRS sender"])

    @router.post("/{organisation}/$process-message", status_code=200)
    async def receive(
        organisation: str,
        request: Request,
        x_signature: str = Header(),
        x_signature_timestamp: str = Header(),
        x_delivery_id: str = Header(),
        x_correlation_id: str = Header(),
    ) -> dict[str, object]:
        fault = recorder.next_fault("bars")
        if fault and fault.get("status"):
            raise HTTPException(int(fault["status"]), "injected fault")
        body = await request.body()
        secret = own_secret(master_secret, f"bars:{request.url}")  # the URL as registered
        verify(secret, x_signature, x_signature_timestamp, body)
        try:
            Bundle.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(400, "not a FHIR Bundle") from error
        record = {
            "organisation": organisation,
            "delivery_id": x_delivery_id,
            "correlation_id": x_correlation_id,
            "body": json.loads(body),
        }
        recorder.add_once("bars", x_delivery_id, record)
        return {"resourceType": "OperationOutcome", "issue": []}

    return router
