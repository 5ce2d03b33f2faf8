"""The clinic's door for people: each clinician signs in as herself (her site's clinician
role); the worklist, and each step of a referral's journey (plain HTML, no JavaScript)."""

from pathlib import Path

PATH = "/clinic"
TEMPLATES = Path(__file__).parent / "templates"
