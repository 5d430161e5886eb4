"""The one version validator, used at every gate: bump, tag, publish, pin write, pin read."""

from __future__ import annotations

import re

from tooling.errors import ToolingError

__all__ = ["VERSION_PATTERN", "is_valid_version", "validate_version"]

# PEP 440 canonical X.Y.Z with at most one of aN / bN / rcN / .postN / .devN.
# Deliberately narrower than PEP 440: no epochs, no local versions, no `v`,
# no two-part versions, nothing a consumer pin could misread.
VERSION_PATTERN = re.compile(
    r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
    r"(?:(?:a|b|rc)(?:0|[1-9][0-9]*)|\.post(?:0|[1-9][0-9]*)|\.dev(?:0|[1-9][0-9]*))?"
)


def is_valid_version(value: str) -> bool:
    """Whether ``value`` is a release version this project accepts."""
    return VERSION_PATTERN.fullmatch(value) is not None


def validate_version(value: str, *, where: str = "version") -> str:
    """Return ``value`` if it is canonical ``X.Y.Z[aN|bN|rcN|.postN|.devN]``; raise otherwise.

    ``where`` names the field or file the value came from, for the message.
    """
    if not isinstance(value, str) or not is_valid_version(value):
        raise ToolingError(
            f"{where}: {value!r} is not a release version; "
            "use PEP 440 canonical X.Y.Z with an optional aN, bN, rcN, .postN or .devN"
        )
    return value
