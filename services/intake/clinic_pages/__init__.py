"""The clinic's door for people: sign in with the site's key, the worklist, accept or
return (plain HTML, no JavaScript)."""

from pathlib import Path

PATH = "/clinic"
TEMPLATES = Path(__file__).parent / "templates"
