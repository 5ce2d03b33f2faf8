"""The auditors' door (the audit role): the audit trail, read only. Who did what to which
referral, when and why: each person's steps and each operator's action."""

from pathlib import Path

PATH = "/audit"
TEMPLATES = Path(__file__).parent / "templates"
