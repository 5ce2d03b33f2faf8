"""The operator's map from the identity provider's role names to ours (staff_roles.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from intake.domain.staff import Staff, StaffRole
from shared.errors import ConfigurationError
from shared.operator_files import read_yaml, validated

DEFAULT_STAFF_ROLES = Path(__file__).resolve().parents[1] / "staff_roles.yaml"


class Granted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: StaffRole
    site: str | None = None


class StaffRoles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    roles_claim: str
    name_claim: str
    roles: dict[str, Granted]

    def staff(self, claims: dict[str, Any]) -> Staff:
        """Who the validated ID token's claims say she is; roles not mapped grant nothing."""
        given = claims.get(self.roles_claim) or []
        granted = [self.roles[r] for r in given if isinstance(r, str) and r in self.roles]
        return Staff(
            person_id=str(claims["sub"]),
            name=str(claims.get(self.name_claim) or claims.get("preferred_username") or ""),
            roles=frozenset(g.role for g in granted),
            sites=frozenset(g.site for g in granted if g.role == "clinician" and g.site),
        )


class StaffRolesError(ConfigurationError):
    """The role map cannot be used; nothing of it was loaded."""


def load_staff_roles(path: Path = DEFAULT_STAFF_ROLES) -> StaffRoles:
    _raw, data = read_yaml(path, StaffRolesError)
    return validated(StaffRoles, data, path, StaffRolesError)
