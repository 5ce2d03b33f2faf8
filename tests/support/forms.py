"""What a browser posts for the NHS three-field date input: `<name>-day`, `-month`, `-year`."""

from __future__ import annotations

from datetime import date


def date_fields(name: str, iso: str) -> dict[str, str]:
    day = date.fromisoformat(iso)
    parts = {"day": day.day, "month": day.month, "year": day.year}
    return {f"{name}-{part}": str(value) for part, value in parts.items()}
