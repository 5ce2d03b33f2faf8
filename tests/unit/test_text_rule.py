"""One rule for text anyone typed (`shared.contracts.unsafe_character`), applied alike to a
submission's fields and to free text on events: no control character, no lone surrogate, no
bidi control; a multi-line text keeps tabs and line breaks."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from devstack.samples import gp_referral
from shared.contracts import BIDI_CONTROLS, Text, unsafe_character
from shared.submission import ReferralSubmission

TEXT: TypeAdapter[str] = TypeAdapter(Text)


@pytest.mark.parametrize(
    ("character", "one_line", "multi_line"),
    [
        ("\x00", True, True),
        ("\x1b", True, True),
        ("\u202e", True, True),
        ("\u2066", True, True),
        ("\ud800", True, True),
        ("\t", True, False),
        ("\n", True, False),
        ("\r", True, False),
        ("é", False, False),
        ("\u2019", False, False),
    ],
)
def test_the_rule(character: str, one_line: bool, multi_line: bool) -> None:
    text = f"Leaking{character}on exercise"
    assert unsafe_character(text, multiline=False) is one_line
    assert unsafe_character(text, multiline=True) is multi_line


@pytest.mark.parametrize("character", ["\x00", "\u202e", "\x1b", "\t\u2067"])
def test_a_submission_and_an_event_refuse_the_same_text(character: str) -> None:
    text = f"Leaking{character}on exercise"
    with pytest.raises(ValidationError):
        TEXT.validate_python(text)
    with pytest.raises(ValidationError):
        ReferralSubmission.model_validate(
            gp_referral(**{"clinical.reason": text}), context={"today": date.today()}
        )


def test_a_line_break_is_kept_by_both_and_a_carriage_return_made_a_line_break() -> None:
    assert TEXT.validate_python("one\r\ntwo") == "one\r\ntwo"
    submission = ReferralSubmission.model_validate(
        gp_referral(**{"clinical.reason": "one\r\ntwo\tthree"}), context={"today": date.today()}
    )
    assert submission.clinical.reason == "one\ntwo\tthree"


def test_the_rule_is_unicodes_own_categories_at_every_code_point() -> None:
    """The rule is a compiled set of characters; Unicode defines it by category (Cc, Cs):
    the two agree everywhere, so a change to either shows here."""
    for point in range(0x110000):
        c = chr(point)
        control = unicodedata.category(c) in ("Cc", "Cs") or c in BIDI_CONTROLS
        assert unsafe_character(c, multiline=False) is control, hex(point)
        assert unsafe_character(c, multiline=True) is (control and c not in "\t\n\r"), hex(point)
