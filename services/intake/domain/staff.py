"""A member of staff as the pages know her: a pseudonymous id from the identity provider
(its `sub`, what the topics carry), the name shown in the referral's history, and what her
roles let her do (DOMAIN.md, "Staff act as themselves")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StaffRole = Literal["clinician", "triage", "operations", "audit"]


@dataclass(frozen=True)
class Staff:
    person_id: str  # the provider's subject: stable, pseudonymous
    name: str
    roles: frozenset[StaffRole]
    sites: frozenset[str]  # the sites she is a clinician at

    def clinician_at(self, site: str) -> bool:
        return "clinician" in self.roles and site in self.sites

    @property
    def site(self) -> str | None:
        """The site whose worklist she sees (the first, if she works at several)."""
        return min(self.sites) if self.sites else None
