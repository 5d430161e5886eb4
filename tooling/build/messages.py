"""Errors that point somewhere: no deleted temp folder, no colour codes, the field to set."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["metadata_hint", "relocated", "strip_ansi"]

# CSI sequences (colours, cursor moves) and the two-byte escapes; linear in the text's length.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Core-metadata fields twine names, and the [project] key that produces each.
_METADATA_FIELDS = (
    ("long_description_content_type", "readme"),
    ("long_description", "readme"),
    ("description", "readme"),
    ("summary", "description"),
    ("author_email", "authors"),
    ("author", "authors"),
    ("license", "license"),
    ("home_page", "urls"),
    ("url", "urls"),
    ("classifiers", "classifiers"),
    ("requires_python", "requires-python"),
)


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences."""
    return _ANSI.sub("", text)


def metadata_hint(detail: str) -> str:
    """What to set in ``[project]`` for a metadata complaint of twine's ("" if none applies)."""
    lowered = detail.lower()
    for field, key in _METADATA_FIELDS:
        if f"`{field}`" in lowered or f"'{field}'" in lowered or f" {field} " in f" {lowered} ":
            if key == "readme":
                return ("set [project] readme to a README file (.md or .rst) that renders, e.g. "
                        'readme = "README.md"')
            return f"set [project] {key}"
    return ""


def relocated(exc: ToolingError, moves: Mapping[Path, Path | str]) -> ToolingError:
    """``exc`` with every temp folder of ``moves`` replaced by where its content came from."""
    message = exc.message
    path = exc.path
    for temp, home in sorted(moves.items(), key=lambda kv: -len(os.fspath(kv[0]))):
        old, new = os.fspath(temp), os.fspath(home)
        message = message.replace(old, new)
        if path is not None and path.startswith(old):
            path = new + path[len(old):]
    return ToolingError(message, path=path, line=exc.line, col=exc.col, exit_code=exc.exit_code)
