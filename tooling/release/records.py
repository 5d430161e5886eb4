"""What each release step records in the journal: one frozen dataclass per step result.

A step returns its record; the runner turns it into JSON (``to_json``) for the journal; a later
step or a resumed run reads it back typed (``CommitRecord.load``, ``BuildRecord.load``), so a
field name is written in one place and a damaged journal is an error naming the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from tooling.release.journal import Journal, JsonValue

__all__ = [
    "BuildRecord",
    "BuiltFile",
    "CommitRecord",
    "ConsumersRecord",
    "PlanRecord",
    "SmokeRecord",
    "to_json",
]


def _json(value: object) -> JsonValue:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(record: object) -> dict[str, JsonValue]:
    """Return ``record`` (a dataclass) as the JSON object the journal keeps."""
    value = _json(record)
    if not isinstance(value, dict):
        raise TypeError(f"a step must return a dataclass record, not {type(record).__name__}")
    return value


def _field(values: dict[str, JsonValue], key: str, journal: Journal) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise ToolingError(f"{journal.path}: {key!r} missing from the release journal",
                           path=journal.path)
    return value


@dataclass(frozen=True)
class PlanRecord:
    """The plan step: what is being released."""

    version: str
    """The version."""
    tag: str
    """Its tag."""
    base: JsonValue
    """The commit the release was planned at (None for an adopted tag)."""
    bump: JsonValue
    """The bump the plan chose (None for an adopted tag)."""


@dataclass(frozen=True)
class BuiltFile:
    """One built file."""

    filename: str
    """Its file name."""
    sha256: str
    """The sha256 of its bytes."""


@dataclass(frozen=True)
class BuildRecord:
    """The build step: the files built (or taken from the index) for the release."""

    files: tuple[BuiltFile, ...]
    """Every file, wheel and sdist."""
    source: str = "build"
    """``build`` (built here) or ``index`` (an adopted tag's files, already published)."""

    @classmethod
    def load(cls, journal: Journal) -> BuildRecord:
        """Read the build step's record back from ``journal``."""
        values = journal.result("build")
        listed = values.get("files")
        if not isinstance(listed, list) or not listed:
            raise ToolingError(f"{journal.path}: build recorded no files", path=journal.path)
        files = []
        for entry in listed:
            if not isinstance(entry, dict):
                raise ToolingError(f"{journal.path}: malformed build entry", path=journal.path)
            files.append(BuiltFile(_field(entry, "filename", journal),
                                   _field(entry, "sha256", journal)))
        source = values.get("source")
        return cls(tuple(files), source if isinstance(source, str) else "build")


@dataclass(frozen=True)
class SmokeRecord:
    """The smoke step."""

    wheel: str
    """The wheel tested."""
    summary: str
    """What was run (or why nothing had to be)."""


@dataclass(frozen=True)
class CommitRecord:
    """The commit step: the version commit."""

    commit: str
    """Its sha."""
    base: str
    """Its parent: the commit the release was planned at."""
    message: str
    """Its message."""

    @classmethod
    def load(cls, journal: Journal) -> CommitRecord:
        """Read the commit step's record back from ``journal``."""
        values = journal.result("commit")
        return cls(_field(values, "commit", journal), _field(values, "base", journal),
                   _field(values, "message", journal))


@dataclass(frozen=True)
class ConsumersRecord:
    """The cascade or converge step: one row per consumer."""

    consumers: tuple[object, ...]
    """The cascade's or converge's row for each consumer (a dataclass each)."""
