"""The operations team's door for people (the operations role): the referrals overdue now,
the dead letters with a replay for each, and erasing a referral's details on request. Each
action names the person in the audit trail. The `referrals` command line does the same."""

from pathlib import Path

PATH = "/operations"
TEMPLATES = Path(__file__).parent / "templates"
