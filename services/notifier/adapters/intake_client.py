"""Read how to reach a patient from intake (the one store of patient details), with the
notifier's own API key. Nothing read here is stored or logged."""

from __future__ import annotations

from uuid import UUID

import httpx

from notifier.domain.plan import Contact


class ContactMissing(Exception):
    """Intake does not know the referral (or refuses this key): retrying will not help."""


class IntakeClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def contact(self, referral_id: UUID) -> Contact:
        response = await self._client.get(f"/v1/referrals/{referral_id}/contact")
        if response.status_code in (401, 403, 404):
            raise ContactMissing(f"intake answered {response.status_code} for {referral_id}")
        response.raise_for_status()  # 5xx: the handler fails and the decision comes again
        data = response.json()
        return Contact(
            given_name=data["given_name"],
            email=data.get("email"),
            mobile=data.get("mobile"),
            contact_preferences=tuple(data.get("contact_preferences") or ()),
            message_detail=data.get("message_detail", "discreet"),
            referrer_role=data["referrer_role"],
            referrer_email=data.get("referrer_email"),
        )

    async def close(self) -> None:
        await self._client.aclose()
