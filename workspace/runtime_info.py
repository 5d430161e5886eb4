"""Which runtime this is: the distribution name and its version.

Installed, the version comes from the distribution's metadata (`[project] version` in the
monorepo's pyproject.toml is its one source). On the source layout (bare modules in
`workspace/`, no package around them) nothing is installed, and the version says so.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["DISTRIBUTION", "SOURCE_VERSION", "is_source_layout", "runtime_version"]

DISTRIBUTION = "molecule-ai-workspace-runtime"
SOURCE_VERSION = "0+source (not installed; source layout)"


def is_source_layout() -> bool:
    """True when running as bare modules from the monorepo rather than as an installed package."""
    # Bare modules have no parent package; the shipped package nests every module in one.
    return not __package__


def runtime_version() -> str:
    """The installed distribution's version, or a marker for the source layout."""
    if is_source_layout():
        return SOURCE_VERSION
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return f"0+unknown ({DISTRIBUTION} metadata not found)"
