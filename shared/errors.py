"""Errors every service shares."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A service's configuration (settings or data it loads at start) cannot be used; the
    service refuses to start and says why in one line."""
