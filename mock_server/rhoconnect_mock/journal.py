"""The request journal: every request and response, for assertions and the admin API.

Placeholder until the journal lands: ``install`` attaches nothing yet.
"""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    """Attach the journal to ``app`` (nothing to attach yet)."""
