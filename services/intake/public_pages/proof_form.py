"""The three things she gives to see or cancel her referral (her reference, her date of birth
as the NHS three-field date input, her postcode), read from a posted form: each missing or
impossible one named for the error summary, before anything is looked up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import Request, Response

from intake.domain.proof import Proof, proof_of
from intake.public_pages.timing import PROOF_BUCKET
from intake.web.pages import Pages, first
from shared.clock import today

BIRTH = "date_of_birth"
FIELDS = ("tracking_reference", f"{BIRTH}-day", f"{BIRTH}-month", f"{BIRTH}-year", "postcode")


@dataclass(frozen=True)
class ProofForm:
    values: dict[str, str]  # as she typed them, to show again
    errors: dict[str, str]  # the element's id -> what to correct, in the page's order
    proof: Proof | None  # None: nothing to look up (errors, or not one of our references)


async def proof_posted(
    pages: Pages, request: Request, template: str
) -> tuple[ProofForm, None] | tuple[None, Response]:
    """Her proof from a post (checked, and counted in the one count for checking and
    cancelling), or the page that refuses it: the form again, naming what to correct."""
    fields, refused = await pages.accepted_post(request, PROOF_BUCKET)
    if refused is not None:
        return None, refused
    assert fields is not None
    asked = read_proof_form(fields)
    if asked.errors:
        shown = {"values": asked.values, "errors": asked.errors}
        return None, pages.render(request, template, 422, **shown)
    return asked, None


def read_proof_form(fields: dict[str, list[str]]) -> ProofForm:
    values = {name: first(fields, name).strip()[:100] for name in FIELDS}
    errors: dict[str, str] = {}
    if not values["tracking_reference"]:
        errors["tracking_reference"] = "Enter your reference"
    born = _date_of_birth(values)
    if born is None:
        errors[f"{BIRTH}-day"] = (
            "Enter your date of birth"
            if not any(values[f"{BIRTH}-{p}"] for p in ("day", "month", "year"))
            else "Date of birth must be a real date, like 27 3 1992"
        )
    if not values["postcode"]:
        errors["postcode"] = "Enter your postcode"
    proof = None
    if not errors and born is not None:
        proof = proof_of(values["tracking_reference"], born, values["postcode"])
    return ProofForm(values, errors, proof)


def _date_of_birth(values: dict[str, str]) -> date | None:
    try:
        born = date(*(int(values[f"{BIRTH}-{p}"]) for p in ("year", "month", "day")))
    except ValueError:
        return None
    return born if born.year >= 1900 and born <= today() else None
