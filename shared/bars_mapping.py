"""The BaRS mapping file's model (`bars_mapping.yaml`, beside it): which codes and identifiers
mean which of our values.

Operator data (like the service directory), validated when intake starts, so that a mistake
in it stops the service rather than refusing referrals one by one."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import PregnancyStatus, ReferrerRole, ServiceCode, SexAtBirth
from shared.errors import ConfigurationError
from shared.operator_files import read_yaml, validated

DEFAULT_MAPPING = Path(__file__).resolve().with_name("bars_mapping.yaml")


class MappingError(ConfigurationError):
    """The mapping file cannot be read or is not valid."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Data):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    source: str | None = Field(default=None, description="The public source that confirms it.")
    local_policy: str | None = None

    def matches(self, system: str | None, code: str | None) -> bool:
        return system == self.system and code == self.code


class ServiceByIdentifier(_Data):
    system: str
    value: str
    service: ServiceCode
    local_policy: str | None = None


class ServiceByCode(Coding):
    service: ServiceCode


class Services(_Data):
    healthcare_service_identifiers: tuple[ServiceByIdentifier, ...] = ()
    service_request_codes: tuple[ServiceByCode, ...] = ()


class RoleCode(Coding):
    role: ReferrerRole


class StatusCode(Coding):
    status: PregnancyStatus


class ConditionCode(Coding):
    condition: str = Field(pattern=r"^[a-z0-9-]{1,40}$")


class PregnancyStatusCodes(_Data):
    codes: tuple[Coding, ...]
    values: tuple[StatusCode, ...]


class OwnSystems(_Data):
    """Systems of our own: they carry every value, whether or not a standard code exists."""

    service: str
    referral_id: str
    tracking_reference: str
    referrer_role: str
    condition: str
    pregnancy_status: str
    observation: str
    sex_at_birth: str
    referral_state: str
    site: str


class BarsMapping(_Data):
    own: OwnSystems
    services: Services
    referrer_roles: tuple[RoleCode, ...]
    ods_organisation_systems: tuple[str, ...] = Field(min_length=1)
    sex_at_birth_from_gender: dict[str, SexAtBirth]
    pregnancy_status: PregnancyStatusCodes
    expected_delivery_date: tuple[Coding, ...]
    delivery_date: tuple[Coding, ...]
    conditions: tuple[ConditionCode, ...] = ()
    revoke_reason: str

    def service_for_identifier(self, system: str | None, value: str | None) -> ServiceCode | None:
        if system == self.own.service and value in set(ServiceCode):
            return ServiceCode(value)
        for entry in self.services.healthcare_service_identifiers:
            if (entry.system, entry.value) == (system, value):
                return entry.service
        return None

    def service_for_code(self, system: str | None, code: str | None) -> ServiceCode | None:
        if system == self.own.service and code in set(ServiceCode):
            return ServiceCode(code)
        return next(
            (e.service for e in self.services.service_request_codes if e.matches(system, code)),
            None,
        )

    def role_for(self, system: str | None, code: str | None) -> ReferrerRole | None:
        if system == self.own.referrer_role and code in set(ReferrerRole):
            return ReferrerRole(code)
        return next((e.role for e in self.referrer_roles if e.matches(system, code)), None)

    def condition_for(self, system: str | None, code: str | None) -> str | None:
        if system == self.own.condition and code:
            return code
        return next((e.condition for e in self.conditions if e.matches(system, code)), None)

    def status_for(self, system: str | None, code: str | None) -> PregnancyStatus | None:
        if system == self.own.pregnancy_status and code in set(PregnancyStatus):
            return PregnancyStatus(code)
        values = self.pregnancy_status.values
        return next((e.status for e in values if e.matches(system, code)), None)

    def is_observation(self, name: str, system: str | None, code: str | None) -> bool:
        """Is (system, code) the observation `name`: ours, or one of its listed codes?"""
        if system == self.own.observation and code == name:
            return True
        listed: dict[str, tuple[Coding, ...]] = {
            "pregnancy-status": self.pregnancy_status.codes,
            "expected-delivery-date": self.expected_delivery_date,
            "delivery-date": self.delivery_date,
        }
        return any(c.matches(system, code) for c in listed.get(name, ()))


def load_mapping(path: Path = DEFAULT_MAPPING) -> BarsMapping:
    _raw, data = read_yaml(path, MappingError)
    return validated(BarsMapping, data, path, MappingError)
