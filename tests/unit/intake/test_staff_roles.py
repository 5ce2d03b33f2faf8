"""The operator's role map: the provider's role names become ours, a clinician's role names
her site, and a role the map does not know grants nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.web.staff_roles import StaffRolesError, load_staff_roles

ROLES = load_staff_roles()


def test_a_clinician_of_one_site_is_a_clinician_there_only() -> None:
    staff = ROLES.staff({"sub": "abc", "name": "Priya Anand", "roles": ["clinician-pelvic-bsol"]})
    assert (staff.person_id, staff.name, staff.roles) == ("abc", "Priya Anand", {"clinician"})
    assert staff.clinician_at("pelvic-bsol")
    assert not staff.clinician_at("mms-kent-medway")
    assert staff.site == "pelvic-bsol"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "roles": ["offline_access", "uma_authorization"]},
        {"sub": "x"},
        {"sub": "x", "roles": "triage"},  # not a list: no role
        {"sub": "x", "roles": [{"name": "triage"}]},
    ],
)
def test_a_role_the_map_does_not_know_grants_nothing(claims: dict[str, object]) -> None:
    staff = ROLES.staff(claims)
    assert staff.roles == frozenset()
    assert staff.site is None


def test_several_roles_add_up() -> None:
    staff = ROLES.staff({"sub": "x", "roles": ["triage", "clinician-mms-kent-medway", "audit"]})
    assert staff.roles == {"triage", "clinician", "audit"}
    assert staff.sites == {"mms-kent-medway"}


def test_a_broken_map_is_refused_with_where_it_is_wrong(tmp_path: Path) -> None:
    broken = tmp_path / "roles.yaml"
    broken.write_text("roles_claim: roles\nname_claim: name\nroles:\n  x: {role: superuser}\n")
    with pytest.raises(StaffRolesError, match="roles"):
        load_staff_roles(broken)
