"""A checked BaRS referral message → a referral submission v1, by the mapping file.

The submission is then validated exactly as the JSON API's: each failing field is named back
as the FHIR element it came from (`origins`), so the sender sees where to look."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from intake.bars.message import Message, Resource
from intake.bars.refusals import Issue, IssueType, Refused, bad, unprocessable
from shared.bars import NHS_NUMBER
from shared.bars_mapping import BarsMapping
from shared.submission import ReferralSubmission, field_errors


@dataclass
class _Draft:
    """The submission being built, and where in the bundle each field came from."""

    data: dict[str, Any] = field(
        default_factory=lambda: {"referrer": {}, "patient": {}, "clinical": {}}
    )
    origins: dict[str, str] = field(default_factory=dict)
    found: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)

    def set(self, path: str, value: Any, origin: str) -> None:
        section, _, name = path.partition(".")
        if name:
            self.data[section][name] = value
        else:
            self.data[section] = value
        self.origins[path] = origin
        self.found.add(path)

    def origin(self, path: str, fallback: str) -> None:
        """Where to point for a field that was not found (a required one)."""
        self.origins.setdefault(path, fallback)


@dataclass(frozen=True)
class Mapped:
    submission: ReferralSubmission
    origins: dict[str, str]

    def origin(self, path: str) -> str | None:
        """The FHIR element a submission field came from."""
        return self.origins.get(path)


def to_submission(message: Message, mapping: BarsMapping, *, today: date) -> Mapped:
    """Raises Refused with every element that cannot be mapped or is not valid."""
    draft = _Draft()
    request = message.focus
    _service(message, mapping, draft)
    patient = message.resolve(request.data.get("subject"))
    if patient is None or patient.type != "Patient":
        draft.issues.append(
            bad(request.at("subject"), "The subject must be a Patient in the bundle.", "required")
        )
    else:
        _patient(patient, mapping, draft)
    _referrer(message, mapping, draft)
    _clinical(message, mapping, draft)
    if draft.issues:
        raise Refused(draft.issues)
    try:
        submission = ReferralSubmission.model_validate(draft.data, context={"today": today})
    except ValidationError as error:
        raise Refused(list(_validation_issues(error, draft, request))) from error
    return Mapped(submission, dict(draft.origins))


def _service(message: Message, mapping: BarsMapping, draft: _Draft) -> None:
    request = message.focus
    for i, performer in enumerate(request.data.get("performer") or []):
        service = message.resolve(performer)
        if service is None or service.type != "HealthcareService":
            continue
        for j, identifier in enumerate(service.data.get("identifier") or []):
            found = mapping.service_for_identifier(
                identifier.get("system"), identifier.get("value")
            )
            if found is not None:
                draft.set("service", found.value, service.at("identifier", j))
                return
        draft.origin("service", request.at("performer", i))
    for j, coding in enumerate((request.data.get("code") or {}).get("coding") or []):
        found = mapping.service_for_code(coding.get("system"), coding.get("code"))
        if found is not None:
            draft.set("service", found.value, request.at("code", "coding", j))
            return
    draft.issues.append(
        unprocessable(
            draft.origins.get("service", request.at("performer")),
            "No service of ours is named by the performer HealthcareService's identifier or "
            "by the ServiceRequest's code.",
        )
    )


def _patient(patient: Resource, mapping: BarsMapping, draft: _Draft) -> None:
    data = patient.data
    draft.origin("patient.nhs_number", patient.at("identifier"))
    for i, identifier in enumerate(data.get("identifier") or []):
        if identifier.get("system") == NHS_NUMBER:
            draft.set("patient.nhs_number", identifier.get("value"), patient.at("identifier", i))
            break
    names = data.get("name") or []
    chosen = next((i for i, n in enumerate(names) if n.get("use") == "official"), 0)
    draft.origin("patient.given_name", patient.at("name"))
    draft.origin("patient.family_name", patient.at("name"))
    if names:
        name = names[chosen]
        if name.get("given"):
            draft.set("patient.given_name", " ".join(name["given"]), patient.at("name", chosen))
        if name.get("family"):
            draft.set("patient.family_name", name["family"], patient.at("name", chosen))
    draft.origin("patient.date_of_birth", patient.at("birthDate"))
    if data.get("birthDate"):
        draft.set("patient.date_of_birth", data["birthDate"], patient.at("birthDate"))
    _sex(patient, mapping, draft)
    _address(patient, draft)
    _telecom(patient, draft)


def _sex(patient: Resource, mapping: BarsMapping, draft: _Draft) -> None:
    for i, extension in enumerate(patient.data.get("extension") or []):
        if extension.get("url") == mapping.own.sex_at_birth:
            draft.set(
                "patient.sex_at_birth", extension.get("valueCode"), patient.at("extension", i)
            )
            return
    draft.origin("patient.sex_at_birth", patient.at("gender"))
    gender = patient.data.get("gender")
    if gender in mapping.sex_at_birth_from_gender:
        draft.set(
            "patient.sex_at_birth", mapping.sex_at_birth_from_gender[gender], patient.at("gender")
        )


def _address(patient: Resource, draft: _Draft) -> None:
    addresses = patient.data.get("address") or []
    draft.origin("patient.postcode", patient.at("address"))
    if not addresses:
        return
    chosen = next((i for i, a in enumerate(addresses) if a.get("use") == "home"), 0)
    address = addresses[chosen]
    if address.get("postalCode"):
        draft.set("patient.postcode", address["postalCode"], patient.at("address", chosen))
    lines = [*(address.get("line") or []), *([address["city"]] if address.get("city") else [])]
    if lines:
        draft.set("patient.address", {"lines": lines}, patient.at("address", chosen, "line"))


def _telecom(patient: Resource, draft: _Draft) -> None:
    """Her own telecom, then that of a contact who is herself (BaRS's example puts it there)."""
    points = [
        (patient.at("telecom", i), t) for i, t in enumerate(patient.data.get("telecom") or [])
    ]
    for c, contact in enumerate(patient.data.get("contact") or []):
        codes = {
            coding.get("code")
            for relationship in contact.get("relationship") or []
            for coding in relationship.get("coding") or []
        }
        if "ONESELF" in codes:
            points += [
                (patient.at("contact", c, "telecom", i), t)
                for i, t in enumerate(contact.get("telecom") or [])
            ]
    ranked = sorted(points, key=lambda p: p[1].get("rank") or 1_000)
    mobile = next((p for p in ranked if p[1].get("system") == "sms"), None) or next(
        (p for p in ranked if p[1].get("system") == "phone" and p[1].get("use") == "mobile"),
        None,
    )
    email = next((p for p in ranked if p[1].get("system") == "email"), None)
    if mobile is not None:
        draft.set("patient.mobile", mobile[1].get("value"), mobile[0])
    if email is not None:
        draft.set("patient.email", email[1].get("value"), email[0])


def _referrer(message: Message, mapping: BarsMapping, draft: _Draft) -> None:
    request = message.focus
    requester = message.resolve(request.data.get("requester"))
    if requester is None or requester.type not in ("PractitionerRole", "Practitioner"):
        draft.issues.append(
            bad(
                request.at("requester"),
                "The requester must be a PractitionerRole or Practitioner in the bundle.",
                "required",
            )
        )
        return
    roles = (
        [requester] if requester.type == "PractitionerRole" else list(_roles_of(message, requester))
    )
    practitioner = (
        requester
        if requester.type == "Practitioner"
        else message.resolve(requester.data.get("practitioner"))
    )
    role_found = None
    for role in roles:
        role_found = _role(role, mapping)
        if role_found is not None:
            draft.set("referrer.role", role_found[0].value, role_found[1])
            break
    if role_found is None:
        draft.issues.append(
            unprocessable(
                roles[0].at("code") if roles else request.at("requester"),
                "The requester's role is not one we can map (PractitionerRole.code or "
                ".specialty): see the referrer roles in the mapping.",
            )
        )
    if practitioner is not None:
        _practitioner(practitioner, draft)
    draft.origin("referrer.name", (practitioner or requester).at("name"))
    emails = [r for r in (practitioner, *roles) if r is not None]
    for resource in emails:
        if _email(resource, draft):
            break
    draft.origin("referrer.contact_email", (practitioner or requester).at("telecom"))
    _organisation(message, roles, mapping, draft)


def _roles_of(message: Message, practitioner: Resource) -> Iterator[Resource]:
    for role in message.of_type("PractitionerRole"):
        if message.resolve(role.data.get("practitioner")) == practitioner:
            yield role


def _role(role: Resource, mapping: BarsMapping) -> tuple[Any, str] | None:
    for element in ("code", "specialty"):
        for i, concept in enumerate(role.data.get(element) or []):
            for j, coding in enumerate(concept.get("coding") or []):
                found = mapping.role_for(coding.get("system"), coding.get("code"))
                if found is not None:
                    return found, role.at(element, i, "coding", j)
    return None


def _practitioner(practitioner: Resource, draft: _Draft) -> None:
    names = practitioner.data.get("name") or []
    if names:
        name = names[0]
        text = name.get("text") or " ".join([*(name.get("given") or []), name.get("family", "")])
        if text.strip():
            draft.set("referrer.name", text.strip(), practitioner.at("name", 0))


def _email(resource: Resource, draft: _Draft) -> bool:
    for i, point in enumerate(resource.data.get("telecom") or []):
        if point.get("system") == "email" and point.get("value"):
            draft.set("referrer.contact_email", point["value"], resource.at("telecom", i))
            return True
    return False


def _organisation(
    message: Message, roles: list[Resource], mapping: BarsMapping, draft: _Draft
) -> None:
    candidates = [message.resolve(r.data.get("organization")) for r in roles]
    candidates.append(message.resolve(message.header.data.get("sender")))
    for organisation in candidates:
        if organisation is None or organisation.type != "Organization":
            continue
        for i, identifier in enumerate(organisation.data.get("identifier") or []):
            if identifier.get("system") in mapping.ods_organisation_systems:
                draft.set(
                    "referrer.organisation_code",
                    identifier.get("value"),
                    organisation.at("identifier", i),
                )
                return
    draft.origin("referrer.organisation_code", message.header.at("sender"))


def _clinical(message: Message, mapping: BarsMapping, draft: _Draft) -> None:
    request = message.focus
    notes = [(i, n["text"]) for i, n in enumerate(request.data.get("note") or []) if n.get("text")]
    draft.origin("clinical.reason", request.at("note"))
    if notes:
        draft.set("clinical.reason", "\n\n".join(t for _, t in notes), request.at("note", 0))
    draft.origin("clinical.pregnancy_status", "Bundle.entry")
    conditions: list[str] = []
    for observation in message.of_type("Observation"):
        _observation(observation, mapping, draft, conditions)
    for condition in message.of_type("Condition"):
        for coding in (condition.data.get("code") or {}).get("coding") or []:
            found = mapping.condition_for(coding.get("system"), coding.get("code"))
            if found is not None and found not in conditions:
                conditions.append(found)
                draft.origins.setdefault("clinical.conditions", condition.at("code"))
    if conditions:
        draft.data["clinical"]["conditions"] = conditions


# Observations whose value is a submission field: (our name, the field, the value element).
_OBSERVED_VALUES = (
    ("expected-delivery-date", "expected_delivery_date", "valueDateTime"),
    ("delivery-date", "delivery_date", "valueDateTime"),
    ("completed-talking-therapies", "completed_talking_therapies", "valueBoolean"),
    ("prior-approval-reference", "prior_approval_reference", "valueString"),
)


def _observation(
    observation: Resource, mapping: BarsMapping, draft: _Draft, conditions: list[str]
) -> None:
    data = observation.data
    for coding in (data.get("code") or {}).get("coding") or []:
        system, code = coding.get("system"), coding.get("code")
        if mapping.is_observation("pregnancy-status", system, code):
            values = (data.get("valueCodeableConcept") or {}).get("coding") or []
            status = next(
                (s for v in values if (s := mapping.status_for(v.get("system"), v.get("code")))),
                None,
            )
            where = observation.at("valueCodeableConcept")
            if status is None:
                draft.issues.append(
                    unprocessable(where, "This pregnancy status is not one we can map.")
                )
            else:
                draft.set("clinical.pregnancy_status", status.value, where)
            return
        for name, key, element in _OBSERVED_VALUES:
            if mapping.is_observation(name, system, code):
                value = data.get(element)
                if element == "valueDateTime" and isinstance(value, str):
                    value = value[:10]  # the date of a dateTime
                draft.set(f"clinical.{key}", value, observation.at(element))
                return
        found = mapping.condition_for(system, code)
        if found is not None and found not in conditions:
            conditions.append(found)
            draft.origins.setdefault("clinical.conditions", observation.at("code"))


def _validation_issues(error: ValidationError, draft: _Draft, request: Resource) -> Iterator[Issue]:
    """Each failing submission field, as the FHIR element it came from."""
    plain = field_errors(error)
    for raw, named in zip(error.errors(include_input=False), plain, strict=True):
        path = named["field"]
        expression = _origin_of(path, draft) or request.path
        missing = raw["type"] == "missing" or (
            raw["type"] == "invalid_field" and path not in draft.found
        )
        kind: IssueType = "required" if missing else "value"
        yield bad(expression, named["message"], kind)


def _origin_of(path: str, draft: _Draft) -> str | None:
    while path:
        if path in draft.origins:
            return draft.origins[path]
        path = path.rpartition(".")[0]
    return None
