"""A mock RhoConnect 7.8 server: ``create_app(config)`` and ``MockServer`` (see ARCHITECTURE.md)."""

#: The distribution's version (``rhoconnect-mock``): the only place it is written.
__version__ = "0.2.0"

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
    "__version__",
    "create_app",
    "load_config",
]
