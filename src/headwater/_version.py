"""The installed version of headwater, read once from package metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("headwater")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
