"""A mock RhoConnect 7.8 server: ``create_app(config)`` and ``MockServer`` (see DESIGN.md)."""

from .app import create_app
from .config import MockConfig, SourceConfig, load_config
from .errors import ConfigError, RhoconnectMockError
from .server import MockServer
from .state import MockState

__all__ = [
    "ConfigError",
    "MockConfig",
    "MockServer",
    "MockState",
    "RhoconnectMockError",
    "SourceConfig",
    "create_app",
    "load_config",
]
