"""The scenario and fault engine: rules that match a request and act on it.

Placeholder until the fault engine lands: ``install`` attaches nothing yet.
"""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    """Attach the fault engine to ``app`` (nothing to attach yet)."""
