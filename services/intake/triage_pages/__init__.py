"""The triage team's door for people: each signs in as herself (the triage role); the
referrals the rules could not decide (urgent, then oldest, first), one in full, and route it
to a site or return it with a reason and signposting (plain HTML, no JavaScript). The router
announces the decision; the command line stays for operators."""

from pathlib import Path

PATH = "/triage"
TEMPLATES = Path(__file__).parent / "templates"
