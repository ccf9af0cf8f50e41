"""A mock RhoConnect 7.8 server: ``create_app(config)`` and ``MockServer`` (see ARCHITECTURE.md)."""

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


def __getattr__(name: str) -> str:
    """``__version__``: written once, in pyproject.toml, and read from the installed metadata on
    first use (``importlib.metadata`` costs a noticeable part of the start-up time)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rhoconnect-mock")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"
