"""The public API of a staged package as a flat, comparable model: what the loader produces.

``tooling.api.loader`` builds it with griffe; ``tooling.api.compare`` and ``tooling.api.values``
read it.  Which names count as public is decided in ``tooling.api.public``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ApiModel",
    "ApiObject",
    "ApiParameter",
]


@dataclass(frozen=True)
class ApiParameter:
    """One parameter of a public callable, as a caller sees it."""

    name: str
    """The parameter's name."""
    kind: str
    """``positional-only``, ``positional or keyword``, ``keyword-only``, ``variadic positional``
    or ``variadic keyword`` (griffe's ParameterKind values)."""
    required: bool
    """Whether a caller must pass it (no default, not variadic)."""
    annotation: str | None
    """Its annotation with names resolved to canonical paths, if any."""
    default: str | None
    """Its default as source text, if any."""


@dataclass(frozen=True)
class ApiObject:
    """One public object at one public dotted path."""

    path: str
    """The public dotted path, e.g. ``molecule_runtime.adapters.BaseAdapter``."""
    kind: str
    """module, class, function, async function, method, async method, property, attribute,
    type alias, or external (an exported name that resolves outside the package)."""
    file: str
    """Where the name is bound, relative to the repository (e.g. ``workspace/adapters/base.py``)."""
    line: int
    """The line it is bound on (1 for a module)."""
    parameters: tuple[ApiParameter, ...] | None
    """What a caller passes (``self``/``cls`` left out; a class shows its ``__init__``); None
    when not callable or unknown (a class whose ``__init__`` comes from outside the package)."""
    returns: str | None
    """The return annotation of a callable, or the annotation of an attribute or property."""
    value: str | None
    """A module or class constant's assignment as written (compare with ``value_meaning``)."""
    bases: tuple[str, ...]
    """A class's direct bases, as canonical paths."""
    ancestors: frozenset[str]
    """Every class it inherits from that the loader could resolve, as canonical paths."""
    target: str | None
    """For a re-exported name, the path it points to."""
    signature_file: str
    """Where its signature is defined (the target's file for a re-export)."""
    signature_line: int
    """The line its signature is defined on."""


@dataclass(frozen=True)
class ApiModel:
    """The whole public API of one staged package."""

    package: str
    """The import package, e.g. ``molecule_runtime``."""
    objects: Mapping[str, ApiObject]
    """Every public object by its public path, sorted by path."""

