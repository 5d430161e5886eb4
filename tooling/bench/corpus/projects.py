"""``tooling/bench/corpus.toml``: the projects of the corpus, checked before anything runs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.bench.corpus.outcomes import Known
from tooling.config import refuse_unknown_keys
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["CORPUS_TOML", "Edit", "Project", "load_projects", "select"]

CORPUS_TOML = Path(__file__).resolve().parents[1] / "corpus.toml"
_KEYS = frozenset({
    "name", "version", "sha256", "package", "tests", "keep", "extra-tests", "pytest-args",
    "ini", "shapes", "known", "defeated", "edits",
})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Edit:
    """A hand edit of the bare tree: the remedy docs/rewrite.md gives for a known limit."""

    path: str
    """File relative to the bare tree (``src/compiler.py``, ``tests/test_x.py``)."""
    old: str
    """Text that must occur exactly once."""
    new: str
    """Its replacement."""
    reason: str
    """Which limit it works around, and how."""


@dataclass(frozen=True)
class Project:
    """One released project of the corpus."""

    name: str
    """The distribution name on the index."""
    version: str
    """The pinned release."""
    sha256: str
    """The sdist's sha256: the download must match it."""
    package: str
    """Path of the import package inside the sdist (``src/jinja2``)."""
    tests: str
    """Path of the test tree inside the sdist."""
    keep: tuple[str, ...]
    """Further packages (sdist paths) that stay packages in the bare tree."""
    extra_tests: tuple[str, ...]
    """Files (sdist paths) copied into the test tree's root, e.g. a root ``conftest.py``."""
    pytest_args: tuple[str, ...]
    """Extra pytest arguments, the same for both layouts."""
    ini: tuple[str, ...]
    """Lines of the ``pytest.ini`` written into the test tree (below ``[pytest]``)."""
    shapes: tuple[str, ...]
    """What the project exercises (plugins by name, sys.modules stubs, ...)."""
    known: tuple[Known, ...]
    """Differences the rewrite cannot avoid, each with its reason."""
    defeated: str | None
    """Why the converter cannot make this project bare (it is then listed, not run)."""
    edits: tuple[Edit, ...] = ()
    """Hand edits applied to the bare tree after conversion, each with its reason."""


def _strings(table: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolingError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _string(table: Mapping[str, object], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ToolingError(f"{where}: {key} must be a non-empty string")
    return value


def _known(entries: object, where: str) -> tuple[Known, ...]:
    if not isinstance(entries, list):
        raise ToolingError(f"{where}: known must be an array of tables")
    found = []
    for i, entry in enumerate(entries):
        at = f"{where}.known[{i}]"
        if not isinstance(entry, dict):
            raise ToolingError(f"{at}: must be a table with test and reason")
        refuse_unknown_keys(entry, frozenset({"test", "reason"}), at)
        found.append(Known(_string(entry, "test", at), _string(entry, "reason", at)))
    return tuple(found)


def _edits(entries: object, where: str) -> tuple[Edit, ...]:
    if not isinstance(entries, list):
        raise ToolingError(f"{where}: edits must be an array of tables")
    found = []
    for i, entry in enumerate(entries):
        at = f"{where}.edits[{i}]"
        if not isinstance(entry, dict):
            raise ToolingError(f"{at}: must be a table with path, old, new and reason")
        refuse_unknown_keys(entry, frozenset({"path", "old", "new", "reason"}), at)
        found.append(Edit(*(_string(entry, k, at) for k in ("path", "old", "new", "reason"))))
    return tuple(found)


def _project(table: object, where: str) -> Project:
    if not isinstance(table, dict):
        raise ToolingError(f"{where}: must be a table")
    refuse_unknown_keys(table, _KEYS, where)
    name = _string(table, "name", where)
    where = f"{where} ({name})"
    sha = _string(table, "sha256", where)
    if not _SHA256.fullmatch(sha):
        raise ToolingError(f"{where}: sha256 {sha!r} is not 64 lowercase hex digits")
    defeated = table.get("defeated")
    if defeated is not None and not isinstance(defeated, str):
        raise ToolingError(f"{where}: defeated must be a string (the reason)")
    return Project(
        name=name, version=_string(table, "version", where), sha256=sha,
        package=_string(table, "package", where), tests=_string(table, "tests", where),
        keep=_strings(table, "keep", where), extra_tests=_strings(table, "extra-tests", where),
        pytest_args=_strings(table, "pytest-args", where), ini=_strings(table, "ini", where),
        shapes=_strings(table, "shapes", where), known=_known(table.get("known", []), where),
        defeated=defeated, edits=_edits(table.get("edits", []), where),
    )


def load_projects(path: Path = CORPUS_TOML) -> tuple[Project, ...]:
    """Every project of ``path``, validated; a bad entry is one ``error:`` naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ToolingError(f"{path}: cannot read: {exc}") from exc
    refuse_unknown_keys(data, frozenset({"project"}), str(path))
    tables = data.get("project", [])
    if not isinstance(tables, list) or not tables:
        raise ToolingError(f"{path}: no [[project]] tables; add at least one")
    projects = tuple(_project(t, f"{path.name}: project[{i}]") for i, t in enumerate(tables))
    seen: set[str] = set()
    for project in projects:
        if project.name in seen:
            raise ToolingError(f"{path}: project {project.name!r} is listed twice")
        seen.add(project.name)
    return projects


def select(projects: Sequence[Project], names: Sequence[str]) -> tuple[Project, ...]:
    """The projects named (all when none is); an unknown name is an error listing the known."""
    if not names:
        return tuple(projects)
    by_name = {p.name: p for p in projects}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ToolingError(f"corpus: no project {unknown[0]!r} in corpus.toml; "
                           f"choose from {', '.join(sorted(by_name))}")
    return tuple(by_name[n] for n in names)
