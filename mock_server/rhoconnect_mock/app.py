"""The app factory: ``create_app(config)`` builds one independent mock RhoConnect server.

All state lives on the app (a ``MockState``, read with ``state.state_of``; its fault engine,
journal and control service beside it), so several apps can run in one process. Every
request goes through the app's ``Pipeline`` (``pipeline.py``), one explicit sequence of steps.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from types import ModuleType
from typing import Any

from flask import Blueprint, Flask

from .api import (
    admin,
    admin_dashboard,  # noqa: F401  (its routes join admin.bp when imported)
    auth,
    bulk,
    changes,
    clients,
    common,
    query,
    search,
    ui,
)
from .config import MockConfig, coerce_config
from .control import EXTENSION as CONTROL_EXTENSION
from .control import ControlService
from .faults import EXTENSION as FAULTS_EXTENSION
from .faults import FaultEngine
from .journal import EXTENSION as JOURNAL_EXTENSION
from .journal import Journal
from .pipeline import MockFlask, Pipeline
from .scenario import config_faults
from .state import MockState, attach_state

log = logging.getLogger(__name__)


def register_protocol_module(app: Flask, module: ModuleType, cfg: MockConfig) -> None:
    """Register a protocol module's ``bp`` (REST) and ``classic_bp`` (under the classic prefix).

    The classic blueprint is also served under ``/api<prefix>``, an alias RhoConnect keeps.
    """
    rest: Blueprint | None = getattr(module, "bp", None)
    classic: Blueprint | None = getattr(module, "classic_bp", None)
    if rest is not None:
        app.register_blueprint(rest)
    if classic is not None:
        app.register_blueprint(classic, url_prefix=cfg.classic_prefix)
        app.register_blueprint(classic, url_prefix="/api" + cfg.classic_prefix, name=f"{classic.name}_api")


def create_app(config: MockConfig | Mapping[str, Any] | None = None) -> Flask:
    """A Flask app serving the RhoConnect protocol from in-memory state built from ``config``."""
    cfg = coerce_config(config)
    app = MockFlask("rhoconnect_mock")
    app.config.update(
        SECRET_KEY=cfg.effective_secret(),
        SESSION_COOKIE_NAME="rhoconnect_session",
        SESSION_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg.cookie_expire),
        # A push of many objects is one large form field (the multipart ``cud`` part) plus one
        # part per blob: werkzeug's defaults (500 kB of form fields, 1000 parts) would refuse it.
        MAX_CONTENT_LENGTH=None,
        MAX_FORM_MEMORY_SIZE=None,
        MAX_FORM_PARTS=1_000_000,
        # Sinatra has no automatic OPTIONS answer: an OPTIONS request is a 404 like any unrouted one.
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    state = MockState(cfg)
    attach_state(app, state)
    engine = app.extensions[FAULTS_EXTENSION] = FaultEngine(config_faults(cfg.scenario, cfg.fault_specs))
    journal = app.extensions[JOURNAL_EXTENSION] = Journal(cfg.journal_size)
    app.extensions[CONTROL_EXTENSION] = ControlService(state, engine, journal)
    common.install(app)
    for module in (auth, clients, query, changes, search, bulk):
        register_protocol_module(app, module, cfg)
    app.register_blueprint(admin.bp)
    app.register_blueprint(ui.ui_bp)
    app.register_blueprint(ui.landing_bp)
    Pipeline(app, state, engine, journal)
    return app
