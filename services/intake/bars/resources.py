"""The FHIR resources intake's `/FHIR/R4` routes take and give, as the OpenAPI document
describes them: the elements a client needs to find its way, every other FHIR R4 element
allowed. (The routes themselves validate with `fhir.resources`; these only document.)"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Fhir(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None


class BundleEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    fullUrl: str | None = None
    resource: dict[str, Any] = Field(description="A FHIR R4 resource, with its resourceType.")


class Bundle(_Fhir):
    """A BaRS message (type `message`: a MessageHeader first, then what it refers to), or a
    searchset."""

    resourceType: Literal["Bundle"]
    type: str = Field(description="`message` for a BaRS message.")
    entry: list[BundleEntry] = Field(default_factory=list)


class Coding(BaseModel):
    model_config = ConfigDict(extra="allow")
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(BaseModel):
    model_config = ConfigDict(extra="allow")
    coding: list[Coding] = Field(default_factory=list)


class OutcomeIssue(BaseModel):
    model_config = ConfigDict(extra="allow")
    severity: str
    code: str = Field(description="The FHIR issue type (structure, invalid, not-found, ...).")
    details: CodeableConcept = Field(
        description="The BaRS error code, in https://fhir.nhs.uk/Codesystem/http-error-codes."
    )
    diagnostics: str | None = None
    expression: list[str] | None = Field(default=None, description="The failing element.")


class OperationOutcome(_Fhir):
    """Every refusal on `/FHIR/R4`: one issue per failing element."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OutcomeIssue]


class ServiceRequest(_Fhir):
    """A referral as the sender sees it: `status` active or revoked, the extension
    `referral-state` for where it stands."""

    resourceType: Literal["ServiceRequest"]
    status: str
    intent: str


class CapabilityStatement(_Fhir):
    """What this server supports."""

    resourceType: Literal["CapabilityStatement"]
    status: str
    kind: str
    fhirVersion: str
