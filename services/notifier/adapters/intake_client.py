"""Read how to reach patients from intake (the one store of patient details), with the
notifier's own API key, a batch of referrals per call. Nothing read here is stored or logged."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

import aiohttp

from notifier.adapters.http_session import LazySession
from shared.contracts import ContactLookup, Contacts, PatientContact
from shared.poison import Transient


class IntakeUnreachable(Transient):
    """Intake is away or failing (transport error, 5xx): the batch comes again later."""


class IntakeClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._url = base_url.rstrip("/") + "/v1/referrals/contacts"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._session = LazySession(timeout=timeout, connections=4)

    async def contacts(
        self, referral_ids: Collection[UUID]
    ) -> tuple[dict[UUID, PatientContact], str]:
        """Each known referral's contact, and why the others are missing.

        A refused key (401/403) leaves every referral missing, since retrying will not help;
        intake away or failing raises IntakeUnreachable."""
        if not referral_ids:
            return {}, ""
        lookup = ContactLookup(referral_ids=list(referral_ids)).model_dump(mode="json")
        try:
            async with self._session.get().post(
                self._url, json=lookup, headers=self._headers
            ) as response:
                if response.status in (401, 403):
                    return {}, f"intake answered {response.status} to the notifier's key"
                if response.status != 200:
                    raise IntakeUnreachable(f"intake answered {response.status}")
                found = Contacts.model_validate(await response.json()).contacts
        except (aiohttp.ClientError, TimeoutError) as error:
            raise IntakeUnreachable(type(error).__name__) from error
        return found, "unknown to intake"

    async def close(self) -> None:
        await self._session.close()
