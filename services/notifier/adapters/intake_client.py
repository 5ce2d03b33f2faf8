"""Read how to reach patients from intake (the one store of patient details), with the
notifier's own API key, a batch of referrals per call. Nothing read here is stored or logged."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

import httpx
from pydantic import TypeAdapter

from notifier.domain.plan import Contact

_CONTACTS = TypeAdapter(dict[UUID, Contact])


class IntakeClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def contacts(self, referral_ids: Collection[UUID]) -> tuple[dict[UUID, Contact], str]:
        """Each known referral's contact, and why the others are missing.

        A refused key (401/403) leaves every referral missing, since retrying will not help;
        a transport error or a 5xx raises, so the batch comes again."""
        if not referral_ids:
            return {}, ""
        response = await self._client.post(
            "/v1/referrals/contacts", json={"referral_ids": [str(i) for i in referral_ids]}
        )
        if response.status_code in (401, 403):
            return {}, f"intake answered {response.status_code} to the notifier's key"
        response.raise_for_status()
        return _CONTACTS.validate_python(response.json()["contacts"]), "unknown to intake"

    async def close(self) -> None:
        await self._client.aclose()
