"""Tracking references: short, read aloud over the phone, typo-checked.

`WHR-` then eight characters and a Luhn mod N check character, from an alphabet without the
look-alikes 0/O, 1/I/L, U/V and 2/Z. python-stdnum's Luhn takes a custom alphabet.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumValidationError

# Luhn mod N catches every single-symbol typo only when N is even: 28 symbols.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXY"
PREFIX = "WHR"
BODY_LENGTH = 8
_SHAPE = re.compile(rf"^{PREFIX}-([{ALPHABET}]{{4}})-([{ALPHABET}]{{5}})$")


def new_tracking_reference(seed: bytes | None = None) -> str:
    """A random reference; or, from a `seed` (a form's own id), always the same one, so
    that a form sent twice names one referral."""
    if seed is None:
        body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    else:
        digest = hashlib.sha256(seed).digest()
        body = "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:BODY_LENGTH])
    full = body + luhn.calc_check_digit(body, alphabet=ALPHABET)
    return f"{PREFIX}-{full[:4]}-{full[4:]}"


def canonical_tracking_reference(reference: str) -> str | None:
    """The reference as we print it, from one typed in lower case or without dashes; None if
    it is not a valid reference."""
    cleaned = reference.strip().upper().replace("-", "").replace(" ", "")
    if not cleaned.startswith(PREFIX):
        return None
    candidate = cleaned[len(PREFIX) :]
    printed = f"{PREFIX}-{candidate[:4]}-{candidate[4:]}"
    if not _SHAPE.fullmatch(printed):
        return None
    try:
        luhn.validate(candidate, alphabet=ALPHABET)
    except StdnumValidationError:
        return None
    return printed


def is_valid_tracking_reference(reference: str) -> bool:
    """Accepts lower case and missing dashes, as people type them."""
    return canonical_tracking_reference(reference) is not None
