"""Message templates as data, checked at load so a discreet message cannot name a condition."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from shared.errors import ConfigurationError

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates.yaml"
Detail = Literal["discreet", "full"]
# What a patient and a referrer may be told: routing's outcomes, and the steps after it.
PatientNews = Literal[
    "routed",
    "rejected",
    "needs-triage",
    "accepted",
    "returned",
    "cancelled",
    "booked",
    "rebooked",
    "appointment-cancelled",
    "did-not-attend",
    "not-contactable",
    "discharged",
    "overdue",
    "reminder",
]
ReferrerNews = Literal[
    "rejected",
    "returned",
    "cancelled",
    "booked",
    "did-not-attend",
    "not-contactable",
    "discharged",
    "overdue",
]


class TemplateError(ConfigurationError):
    pass


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variants(_Data):
    discreet: str
    full: str

    def pick(self, detail: Detail) -> str:
        return self.full if detail == "full" else self.discreet


class PatientEmail(_Data):
    subject: Variants
    body: str


class PatientOutcome(_Data):
    sms: Variants
    email: PatientEmail


class ReferrerEmail(_Data):
    subject: str
    body: str


class Templates(_Data):
    discreet_placeholders: frozenset[str]
    sensitive_words: tuple[str, ...]
    patient: dict[PatientNews, PatientOutcome]
    referrer: dict[ReferrerNews, ReferrerEmail]

    @model_validator(mode="after")
    def every_news_has_words(self) -> Templates:
        for table, wanted in ((self.patient, PatientNews), (self.referrer, ReferrerNews)):
            missing = sorted(set(get_args(wanted)) - set(table))
            if missing:
                raise ValueError(f"no template for {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def discreet_texts_stay_discreet(self) -> Templates:
        for outcome, texts in self.patient.items():
            for where, text in (
                (f"{outcome}.sms", texts.sms.discreet),
                (f"{outcome}.email.subject", texts.email.subject.discreet),
            ):
                extra = placeholders(text) - self.discreet_placeholders
                if extra:
                    raise ValueError(f"patient.{where}.discreet uses {sorted(extra)}")
                found = sensitive_in(text, self.sensitive_words)
                if found:
                    raise ValueError(f"patient.{where}.discreet names {found}")
        return self


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def sensitive_in(text: str, words: tuple[str, ...]) -> list[str]:
    lowered = {w.strip(".,:;!?()'\"").lower() for w in text.split()}
    return [word for word in words if word in lowered]


def render(text: str, values: dict[str, str]) -> str:
    return text.format_map(values)


def load_templates(path: Path = DEFAULT_TEMPLATES) -> Templates:
    try:
        return Templates.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, ValueError) as error:
        raise TemplateError(f"{path}: {error}") from error
