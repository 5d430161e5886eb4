"""The workflow definition's building blocks and a YAML writer the forges read back unchanged.

PyYAML cannot write comments, and the pinned actions carry their version in one; so the
generated files come from this small block-style emitter, and `to_yaml` refuses any text that
does not parse back (with the forges' reading of `on:`) to exactly the data it was given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import yaml

from tooling.errors import ToolingError

__all__ = [
    "OMIT",
    "Commented",
    "Forge",
    "Node",
    "PerForge",
    "Pinned",
    "Plain",
    "WorkflowLoader",
    "as_data",
    "load_workflow",
    "resolve",
    "to_yaml",
]

Forge: TypeAlias = Literal["github", "gitea"]


@dataclass(frozen=True)
class Pinned:
    """A third-party action pinned by full commit SHA, rendered with its version as a comment."""

    repo: str
    """`owner/name` of the action."""
    sha: str
    """The full 40-hex commit the version tag points at (tags can be moved; commits cannot)."""
    version: str
    """The release tag that commit carries, shown in the comment for humans and Dependabot."""


@dataclass(frozen=True)
class Commented:
    """A scalar rendered with a trailing comment saying why it is there."""

    value: str
    """The scalar itself."""
    comment: str
    """The reason, shown after `#` in the generated file."""


@dataclass(frozen=True)
class PerForge:
    """A value that differs between the forges; `OMIT` drops the key on that forge."""

    github: Node
    """The value in `.github/workflows/`."""
    gitea: Node
    """The value in `.gitea/workflows/`."""


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()

Node: TypeAlias = (
    "str | int | bool | Pinned | Commented | PerForge | _Omit | Mapping[str, Node]"
    " | Sequence[Node]"
)
Plain: TypeAlias = (
    "str | int | bool | Pinned | Commented | Mapping[str, Plain] | Sequence[Plain]"
)
_Scalar: TypeAlias = "str | int | bool | Pinned | Commented"
_SCALARS = (str, int, bool, Pinned, Commented)


def _pick(node: Node, forge: Forge) -> Node:
    while isinstance(node, PerForge):
        node = node.github if forge == "github" else node.gitea
    return node


def resolve(node: Node, forge: Forge) -> Plain:
    """Resolve the definition for one forge: pick `PerForge` values, drop `OMIT` keys."""
    node = _pick(node, forge)
    if isinstance(node, _Omit):
        raise ToolingError("tooling/ci/definitions.py: OMIT is only allowed as a mapping value")
    if isinstance(node, Mapping):
        out: dict[str, Plain] = {}
        for key, value in node.items():
            picked = _pick(value, forge)
            if not isinstance(picked, _Omit):
                out[key] = resolve(picked, forge)
        return out
    if isinstance(node, _SCALARS):
        return node
    if isinstance(node, Sequence):
        return [resolve(item, forge) for item in node]
    raise ToolingError(f"tooling/ci/definitions.py: cannot resolve {node!r}")


_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@` ")


def _scalar(value: _Scalar) -> str:
    if isinstance(value, Commented):
        return f"{_scalar(value.value)} # {value.comment}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Pinned):
        return f"{value.repo}@{value.sha} # {value.version}"
    plain_ok = (
        value
        and not value.startswith(_INDICATORS)
        and not value.endswith(" ")
        and ": " not in value
        and " #" not in value
        and _reads_back(value)
    )
    # A JSON string is a valid YAML double-quoted scalar.
    return value if plain_ok else json.dumps(value)


def _reads_back(value: str) -> bool:
    try:
        return load_workflow(f"k: {value}") == {"k": value}
    except yaml.YAMLError:
        return False


def _emit_entry(key: str, value: Plain, pad: str, lines: list[str]) -> None:
    if isinstance(value, str) and "\n" in value:
        # Literal block; `|-` strips the final newline when the value has none.
        style = "|" if value.endswith("\n") else "|-"
        lines.append(f"{pad}{key}: {style}")
        lines.extend(f"{pad}  {line}" if line else "" for line in value.splitlines())
    elif isinstance(value, _SCALARS):
        lines.append(f"{pad}{key}: {_scalar(value)}")
    elif value:
        lines.append(f"{pad}{key}:")
        _emit(value, len(pad) + 2, lines)
    else:
        lines.append(f"{pad}{key}: {'{}' if isinstance(value, Mapping) else '[]'}")


def _emit(node: Plain, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(node, Mapping):
        for key, value in node.items():
            _emit_entry(key, value, pad, lines)
    elif isinstance(node, Sequence) and not isinstance(node, str):
        for item in node:
            if isinstance(item, Mapping) and item:
                inner: list[str] = []
                _emit(item, indent + 2, inner)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            elif isinstance(item, _SCALARS):
                lines.append(f"{pad}- {_scalar(item)}")
            else:
                raise ToolingError(
                    "tooling/ci/definitions.py: nested or empty list items unsupported"
                )
    else:
        raise ToolingError(
            f"tooling/ci/definitions.py: cannot emit a bare scalar {node!r} at the top"
        )


def _spaced(lines: list[str]) -> list[str]:
    # A blank line before each top-level key and each job, for readers of the generated file.
    out: list[str] = []
    in_jobs = False
    for line in lines:
        top = not line.startswith(" ")
        job = in_jobs and line.startswith("  ") and not line.startswith("   ")
        if out and (top or job) and not out[-1].endswith(":"):
            out.append("")
        if top:
            in_jobs = line == "jobs:"
        out.append(line)
    return out


class WorkflowLoader(yaml.SafeLoader):
    """A safe YAML loader that reads `on:` as the string `on`, the way the forges do.

    YAML 1.1 resolves `on`/`off`/`yes`/`no` to booleans; workflow keys are never booleans.
    """


WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_workflow(text: str) -> object:
    """Parse a workflow file's YAML the way the forges read it."""
    return yaml.load(text, Loader=WorkflowLoader)  # noqa: S506 - WorkflowLoader is a SafeLoader


def as_data(node: Plain) -> object:
    """Return the plain data a forge reads from the rendered ``node`` (comments dropped)."""
    if isinstance(node, Pinned):
        return f"{node.repo}@{node.sha}"
    if isinstance(node, Commented):
        return node.value
    if isinstance(node, Mapping):
        return {k: as_data(v) for k, v in node.items()}
    if isinstance(node, Sequence) and not isinstance(node, str):
        return [as_data(v) for v in node]
    return node


def to_yaml(node: Plain) -> str:
    """Block-style YAML for ``node``; raises if the text would not read back as ``node``."""
    lines: list[str] = []
    _emit(node, 0, lines)
    text = "\n".join(_spaced(lines)) + "\n"
    if load_workflow(text) != as_data(node):
        raise ToolingError(
            "tooling/ci/yaml_model.py: the emitted YAML does not parse back to its definition;"
            " fix the emitter or the value"
        )
    return text
