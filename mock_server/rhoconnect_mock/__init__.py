"""A mock RhoConnect 7.8 server: ``create_app(config)`` and ``MockServer`` (see ARCHITECTURE.md)."""

from importlib.metadata import PackageNotFoundError as _NotInstalled
from importlib.metadata import version as _version

from .app import create_app
from .config import MockConfig, SourceConfig, load_config
from .errors import ConfigError, RhoconnectMockError
from .server import MockServer
from .state import MockState

try:  # written once, in pyproject.toml; read from the installed distribution's metadata
    __version__ = _version("rhoconnect-mock")
except _NotInstalled:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

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
