"""The woman's door: the self-referral form and the page where she cancels her request
(plain HTML in the NHS design system, no JavaScript)."""

from pathlib import Path

PATH = "/self-referral"
TEMPLATES = Path(__file__).parent / "templates"
