"""The package's version: written once, in ``client/pyproject.toml``, and read from the installed
distribution's metadata (``0+unknown`` when imported from a source tree that was never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rhoconnect-client")
except PackageNotFoundError:
    __version__ = "0+unknown"
