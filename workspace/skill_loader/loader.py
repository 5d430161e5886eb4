"""Load skills from a directory.

Each skill is a directory holding `SKILL.md`, whose YAML front matter names and describes it::

    ---
    name: summarise
    description: Summarise a document in three sentences.
    tags: [text]
    ---
    Instructions for the agent follow the front matter.

A `tool.py` next to it may define `run(text: str) -> str`; the runtime offers it to the adapter
as a tool named after the skill.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["Skill", "SkillError", "load_skill", "load_skills"]

_FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n?(.*)\Z", re.DOTALL)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class SkillError(ValueError):
    """A skill directory is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Skill:
    """One loaded skill."""

    name: str
    """Unique name: lower case, digits, `-` and `_`."""
    description: str
    """One sentence for the agent card."""
    instructions: str
    """The Markdown body of SKILL.md."""
    path: Path
    """The skill's directory."""
    tags: tuple[str, ...] = ()
    """Free-form tags for the agent card."""
    tool: Callable[[str], str] | None = field(default=None, repr=False)
    """`run` from tool.py, when the skill has one."""

    def card(self) -> dict[str, Any]:
        """The A2A agent-card entry for this skill."""
        return {
            "id": self.name,
            "name": self.name,
            "description": self.description,
            "tags": list(self.tags),
        }


def load_skill(directory: Path) -> Skill:
    """The skill in ``directory``."""
    manifest = directory / "SKILL.md"
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise SkillError(f"{manifest}: cannot read: {exc.strerror}") from exc
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise SkillError(f"{manifest}: must start with YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise SkillError(f"{manifest}: invalid front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise SkillError(f"{manifest}: front matter must be a mapping")
    name = meta.get("name", directory.name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SkillError(
            f"{manifest}: name {name!r} must be lower case letters, digits, '-' or '_'"
        )
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SkillError(f"{manifest}: description is required")
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SkillError(f"{manifest}: tags must be a list of strings")
    return Skill(
        name=name,
        description=description.strip(),
        instructions=match.group(2).strip(),
        path=directory,
        tags=tuple(tags),
        tool=_load_tool(directory / "tool.py", name),
    )


def load_skills(root: Path) -> list[Skill]:
    """Every skill in the subdirectories of ``root``, by name; names must be unique."""
    if not root.is_dir():
        raise SkillError(f"skills_dir: {root} is not a directory")
    skills: dict[str, Skill] = {}
    for directory in sorted(p for p in root.iterdir() if (p / "SKILL.md").is_file()):
        skill = load_skill(directory)
        if skill.name in skills:
            first = skills[skill.name].path
            raise SkillError(f"{directory}: skill name {skill.name!r} is already used by {first}")
        skills[skill.name] = skill
    return list(skills.values())


def _load_tool(path: Path, name: str) -> Callable[[str], str] | None:
    if not path.is_file():
        return None
    # A private module name: skills are files, not importable packages, and must not collide.
    spec = importlib.util.spec_from_file_location(f"_molecule_skill_{name.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise SkillError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SkillError(f"{path}: failed to load: {type(exc).__name__}: {exc}") from exc
    run = getattr(module, "run", None)
    if not callable(run):
        raise SkillError(f"{path}: must define run(text: str) -> str")
    return run  # type: ignore[no-any-return]
