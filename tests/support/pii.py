"""Find patient identifiers in text: every identifier the tests use, and anything shaped like
an NHS number, an email address or a full postcode."""

from __future__ import annotations

import re

from stdnum.gb import nhs

from devstack.samples import PATIENT_IDENTIFIERS

_TEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{3}[ -]?\d{3}[ -]?\d{4}(?![0-9A-Za-z])")
# Anchored at the start of a run and bounded, so that a long base64 run without an "@" is
# scanned once, not once per position (which took minutes on a 700 kB sealed message).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+")
_FULL_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b")
# Professionals' work addresses, and the example in our own hint, are not patient data.
_ALLOWED_EMAILS = {"referrals@example-practice.nhs.uk", "name@example.com"}  # and our hint


# Whole values only: a short name such as "Jane" turns up by chance inside long base64 (sealed
# submissions), where letters and digits surround it; in clear text it stands apart.
_WHOLE = [
    (value, re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])"))
    for value in PATIENT_IDENTIFIERS
]


def identifiers_in(text: str) -> list[str]:
    found = [value for value, pattern in _WHOLE if pattern.search(text)]
    found += [m for m in _TEN_DIGITS.findall(text) if nhs.is_valid(nhs.compact(m))]
    found += [m for m in _EMAIL.findall(text) if m not in _ALLOWED_EMAILS]
    found += _FULL_POSTCODE.findall(text)
    return found
