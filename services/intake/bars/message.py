"""A BaRS message read and checked: valid FHIR R4 (by `fhir.resources`), a `message` Bundle
whose first entry is a MessageHeader of an event we take, with a ServiceRequest as its focus
and every `urn:uuid:` reference resolving inside the bundle.

Values are then read from the JSON itself, beside the parsed model, so that each one's exact
place (`Bundle.entry[3].resource.identifier[0].value`) can be named when it is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource as FhirResource
from pydantic import ValidationError

from intake.bars.refusals import Issue, Refused, bad, unprocessable
from shared.bars import EVENT_SYSTEMS, REFERRAL_EVENT


@dataclass(frozen=True)
class Resource:
    """One entry's resource, with where it sits in the bundle."""

    index: int
    full_url: str | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("resourceType"))

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    def at(self, *parts: str | int) -> str:
        """The FHIRPath of an element of this resource."""
        path = self.path
        for part in parts:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        return path


@dataclass(frozen=True)
class Message:
    bundle: dict[str, Any]
    header: Resource
    focus: Resource  # the ServiceRequest
    resources: tuple[Resource, ...]

    @property
    def message_id(self) -> str:
        """The MessageHeader's id; BaRS's own examples may give only its `urn:uuid:` fullUrl."""
        header_id = self.header.data.get("id")
        if header_id:
            return str(header_id)
        return str(self.header.full_url).removeprefix("urn:uuid:")

    @property
    def reason(self) -> str | None:
        codings = (self.header.data.get("reason") or {}).get("coding") or []
        return next((c.get("code") for c in codings if c.get("code")), None)

    def fingerprint(self) -> bytes:
        """The same message however its JSON was spaced or ordered."""
        return hashlib.sha256(json.dumps(self.bundle, sort_keys=True).encode()).digest()

    def resolve(self, reference: Any) -> Resource | None:
        return _resolve(self.resources, reference)

    def of_type(self, resource_type: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.type == resource_type)


def read_message(data: Any) -> Message:
    """Parse and check a BaRS referral message; raises Refused naming every failing element."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise Refused([bad("Bundle", "The body must be a FHIR Bundle.", "structure")])
    entries = data.get("entry")
    if isinstance(entries, list):
        _check_entries(entries)  # before the parser, which fails on an unknown type
    try:
        Bundle.model_validate(data)
    except ValidationError as error:
        raise Refused([_structure_issue(e) for e in error.errors(include_url=False)]) from error
    except (KeyError, TypeError, ValueError, RecursionError) as error:  # a resource we cannot
        raise Refused(  # even type, such as an unknown one in `contained`
            [bad("Bundle", "The Bundle is not valid FHIR R4.", "structure")]
        ) from error
    if data.get("type") != "message":
        raise Refused([bad("Bundle.type", "A BaRS message is a Bundle of type 'message'.")])
    resources = tuple(
        Resource(i, entry.get("fullUrl"), entry["resource"])
        for i, entry in enumerate(data.get("entry") or [])
        if isinstance(entry.get("resource"), dict)
    )
    if not resources or resources[0].index != 0 or resources[0].type != "MessageHeader":
        raise Refused(
            [bad("Bundle.entry[0].resource", "The first entry must be the MessageHeader.")]
        )
    header = resources[0]
    issues = [
        *_event_issues(header),
        *_message_id_issues(header),
        *_further_headers(resources),
        *_unresolved(resources),
    ]
    focus = _focus(header, resources, issues)
    if issues or focus is None:
        raise Refused(issues)
    return Message(data, header, focus, resources)


def _check_entries(entries: list[Any]) -> None:
    """FHIR R4's rules the parser does not keep: each entry's resource names a resource type
    it knows, and no two entries share a fullUrl (invariant bdl-7)."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue  # the parser names it
        resource, full_url = entry.get("resource"), entry.get("fullUrl")
        if isinstance(resource, dict) and not _known_type(resource.get("resourceType")):
            issues.append(
                bad(
                    f"Bundle.entry[{i}].resource",
                    "Each resource must name a FHIR R4 resourceType.",
                    "structure",
                )
            )
        if not isinstance(full_url, str):
            continue  # absent, or not a string: the parser names it
        if full_url in seen:
            issues.append(
                bad(
                    f"Bundle.entry[{i}].fullUrl",
                    "Each entry's fullUrl must be unique in the Bundle (bdl-7).",
                    "structure",
                )
            )
        seen.add(full_url)
    if issues:
        raise Refused(issues)


def _known_type(resource_type: Any) -> bool:
    if not isinstance(resource_type, str) or not resource_type.isalpha():
        return False
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return issubclass(model, FhirResource)  # not a datatype such as Coding


def _structure_issue(error: Any) -> Issue:
    """The parser's complaint, at its element; an element FHIR does not define is named by
    the element that holds it (its name is the sender's text, and is not echoed)."""
    loc = ("Bundle", *error["loc"])
    if error["type"] == "extra_forbidden":
        return bad(_expression(loc[:-1]), "An element FHIR R4 does not define here.", "structure")
    return bad(_expression(loc), str(error["msg"]), "structure")


def _message_id_issues(header: Resource) -> list[Issue]:
    """A repeat is known by the message id, so a message must have one."""
    if header.data.get("id") or str(header.full_url or "").startswith("urn:uuid:"):
        return []
    return [
        bad(
            header.at("id"),
            "The MessageHeader needs an id, or a urn:uuid: fullUrl, to name the message.",
            "required",
        )
    ]


def _further_headers(resources: tuple[Resource, ...]) -> Iterator[Issue]:
    for resource in resources[1:]:
        if resource.type == "MessageHeader":
            yield bad(resource.path, "A message has one MessageHeader, its first entry.")


def _resolve(resources: tuple[Resource, ...], reference: Any) -> Resource | None:
    """The resource a Reference points to inside the bundle (by fullUrl, or by `Type/id` for
    a resource that has an id), or None."""
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not target:
        return None
    for resource in resources:
        if target in (resource.full_url, f"{resource.type}/{resource.data.get('id')}"):
            return resource
    return None


def _event_issues(header: Resource) -> list[Issue]:
    event = header.data.get("eventCoding") or {}
    if event.get("system") not in EVENT_SYSTEMS:
        return [
            bad(
                header.at("eventCoding", "system"),
                f"The event must be coded in {EVENT_SYSTEMS[0]}.",
                "value",
            )
        ]
    if event.get("code") != REFERRAL_EVENT:
        return [
            unprocessable(
                header.at("eventCoding", "code"),
                f"This service takes the {REFERRAL_EVENT} event only.",
            )
        ]
    return []


def _focus(
    header: Resource, resources: tuple[Resource, ...], issues: list[Issue]
) -> Resource | None:
    focus = header.data.get("focus") or []
    if len(focus) != 1:
        issues.append(
            bad(header.at("focus"), "The message must have exactly one focus.", "required")
        )
        return None
    resource = _resolve(resources, focus[0])
    if resource is None or resource.type != "ServiceRequest":
        issues.append(
            bad(
                header.at("focus", 0),
                "The focus must be a ServiceRequest in the bundle.",
            )
        )
        return None
    return resource


def _unresolved(resources: tuple[Resource, ...]) -> Iterator[Issue]:
    """Every `urn:uuid:` reference must point inside the bundle (other references may point
    to a server, as BaRS's own example does for an episode of care)."""
    inside = {r.full_url for r in resources}
    for resource in resources:
        for parts, target in _references(resource.data, ()):
            if target.startswith("urn:uuid:") and target not in inside:
                yield bad(
                    resource.at(*parts, "reference"),
                    "This reference does not resolve to an entry of the bundle.",
                )


Parts = tuple[str | int, ...]


def _references(node: Any, parts: Parts) -> Iterator[tuple[Parts, str]]:
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str):
            yield parts, reference
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _references(value, (*parts, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _references(value, (*parts, i))


def _expression(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path
