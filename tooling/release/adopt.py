"""``invoke init``: adopt the pipeline into an existing repository (docs/adopt.md).

It merges ``[project]``, ``[tool.runtime-build]`` and the pipeline's dependency groups into
the host's pyproject.toml with tomlkit (the host's formatting, comments and other tables stay
as they are), adds the build outputs to .gitignore, writes the workflows under the chosen
file-name prefix, runs the doctor when there is one, and prints what is left to decide.

``plan_adoption`` decides every file's new text and checks the result (the merged pyproject
is validated as the stages will read it, a workflow of the same name that we did not generate
is refused) before ``apply_adoption`` writes anything.  A second run changes nothing.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from tooling.ci import workflows
from tooling.cli import guarded
from tooling.config import DEFAULT_COMPAT_CONSTANTS as DEFAULT_CONSTANTS
from tooling.config import parse_config
from tooling.errors import ToolingError
from tooling.files import write_atomic
from tooling.proc import run
from tooling.release.repo import BUILD_OUTPUTS
from tooling.version import is_valid_version
from tooling.versioning.history import last_release_tag

__all__ = [
    "GROUPS_FILE",
    "AdoptPlan",
    "Answers",
    "FileChange",
    "apply_adoption",
    "describe_adoption",
    "main",
    "merge_gitignore",
    "merge_pyproject",
    "plan_adoption",
]

GROUPS_FILE = Path(__file__).resolve().parents[1] / "dependency-groups.toml"
"""The pipeline's own dependency groups, which travel with tooling/."""
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PYTHONS = ("3.11", "3.12", "3.13")
_GITIGNORE_HEADER = "# runtime release pipeline: build outputs and local state (invoke init)"
# The in-tree backend stages and rewrites before building, so `pip install .` and
# `python -m build` make the namespaced wheel too (docs/build.md).
_BUILD_SYSTEM: dict[str, object] = {
    "requires": ["flit_core>=3.11,<5", "libcst>=1.1", "tomlkit>=0.12", "packaging>=23",
                 "griffe>=1.5"],
    "build-backend": "tooling.build.backend",
    "backend-path": ["."],
}


@dataclass(frozen=True)
class Answers:
    """What the user chose, by flag; None keeps what pyproject.toml says (or the default)."""

    source: str | None = None
    """``--source``: the folder of bare modules, relative to the root."""
    package: str | None = None
    """``--package``: the import package it becomes."""
    distribution: str | None = None
    """``--distribution``: the name users install."""
    tag_prefix: str | None = None
    """``--tag-prefix``: release tags are this plus the version."""
    release_branch: str | None = None
    """``--release-branch``: the branch releases are cut from."""
    workflow_prefix: str | None = None
    """``--workflow-prefix``: file-name prefix of the generated workflows."""
    gitea_version: str | None = None
    """``--gitea-version``: the oldest Gitea the .gitea/ files must work on."""


@dataclass(frozen=True)
class FileChange:
    """One file adoption writes."""

    path: str
    """Relative to the root, POSIX style."""
    old: str
    """Its text now (empty when it does not exist)."""
    new: str
    """Its text after adoption."""


@dataclass(frozen=True)
class AdoptPlan:
    """Everything ``invoke init`` would change, and what it leaves to the user."""

    root: Path
    """The repository root."""
    changes: tuple[FileChange, ...]
    """Files whose text changes (empty on a second run)."""
    left: tuple[str, ...]
    """What is left to decide, one line each."""


def _table(doc: tomlkit.TOMLDocument | Table, key: str, *, super_table: bool = False) -> Table:
    found = doc.get(key)
    if found is None:
        # A super table writes only its sub-tables' headers: `[tool.runtime-build]`.
        found = tomlkit.table(is_super_table=super_table)
        doc[key] = found
    if not isinstance(found, Table):
        raise ToolingError(f"pyproject.toml: `{key}` must be a table")
    return found


def _set(table: Table, key: str, given: str | None, default: str) -> None:
    if given is not None:
        if table.get(key) != given:
            table[key] = given
    elif key not in table:
        table[key] = default


def _baseline(root: Path, tag_prefix: str) -> str:
    """The version of the last release tag (the first release after adoption follows it)."""
    try:
        tag = last_release_tag(root, tag_prefix)
    except ToolingError:
        return "0.0.0"
    rest = tag.removeprefix(tag_prefix) if tag else ""
    return rest if is_valid_version(rest) else "0.0.0"


def _merge_groups(doc: tomlkit.TOMLDocument, left: list[str]) -> None:
    pipeline = tomlkit.parse(GROUPS_FILE.read_text(encoding="utf-8"))["dependency-groups"]
    assert isinstance(pipeline, Table)  # noqa: S101 - our own file, checked by its test
    groups = _table(doc, "dependency-groups")
    for name, value in pipeline.items():
        if name not in groups:
            groups[name] = value
        elif groups[name] != value:
            left.append(f"[dependency-groups] {name} is the host's own; the nox sessions use "
                        f"the pipeline's (tooling/dependency-groups.toml), keep it or rename it")


def _defines_compat_constants(source: Path) -> bool:
    """Whether any module under ``source`` names a compat.json constant (docs/api-diff.md)."""
    names = tuple(DEFAULT_CONSTANTS.values())
    for path in source.rglob("*.py"):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(name in text for name in names):
            return True
    return False


def merge_pyproject(text: str, answers: Answers, *, version: str,
                    left: list[str], compat_constants: bool = True,
                    readme: str | None = None) -> str:
    """``text`` with the pipeline's tables merged in; everything else stays byte for byte.

    Flags given replace a value; missing keys get the defaults; keys the host set and no flag
    names are kept.  Appends to ``left`` what the user still has to decide.  Without
    ``compat_constants`` (the source defines none of compat.json's constants) the build is
    told not to require them.  ``readme`` (the runtime's README, root-relative) becomes
    ``[project] readme`` when the host has none.
    """
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ToolingError(f"pyproject.toml: invalid TOML: {exc}; fix it first") from exc
    project = _table(doc, "project")
    name = answers.distribution or project.get("name")
    if not isinstance(name, str) or not _DISTRIBUTION.match(name):
        raise ToolingError("pyproject.toml [project] name: missing or not a distribution name; "
                           "pass --distribution NAME")
    _set(project, "name", answers.distribution, name)
    _set(project, "version", None, version)
    if "description" not in project:
        # The build backend refuses a distribution without one.
        project["description"] = f"{name}: the runtime built from this repository"
        left.append("[project] description: one line saying what the runtime is")
    if readme is not None and "readme" not in project:
        project["readme"] = readme
    _set(project, "requires-python", None, ">=3.11")
    if "dependencies" not in project:
        project["dependencies"] = tomlkit.array()
        left.append("[project] dependencies: list what the runtime imports (the smoke test "
                    "installs only these)")
    if "classifiers" not in project:
        classifiers = tomlkit.array().multiline(multiline=True)
        classifiers.extend(f"Programming Language :: Python :: {v}" for v in _PYTHONS)
        project["classifiers"] = classifiers
    tool = _table(doc, "tool", super_table=True)
    build = _table(tool, "runtime-build")
    source = answers.source or str(build.get("source", "workspace"))
    _set(build, "source", answers.source, source)
    _set(build, "package", answers.package, "molecule_runtime")
    _set(build, "tag-prefix", answers.tag_prefix, "runtime-v")
    _set(build, "release-branch", answers.release_branch, "main")
    _set(build, "changelog", None, f"{source.strip('/')}/CHANGELOG.md")
    flows = _table(build, "workflows")
    _set(flows, "prefix", answers.workflow_prefix, "runtime-")
    if answers.gitea_version is not None:
        _set(flows, "gitea-version", answers.gitea_version, answers.gitea_version)
    if not compat_constants and "compat" not in build:
        compat = tomlkit.table()
        compat["required"] = False
        build["compat"] = compat
        left.append(f"[tool.runtime-build.compat] required = false: {source} defines no "
                    f"{' or '.join(DEFAULT_CONSTANTS.values())} for compat.json; define them "
                    "and drop the setting if consumers check them (docs/api-diff.md)")
    if "build-system" not in doc:
        doc["build-system"] = _BUILD_SYSTEM
    _merge_groups(doc, left)
    return tomlkit.dumps(doc)


def _ignored(line: str) -> str:
    return line.strip().strip("/")


def merge_gitignore(text: str) -> str:
    """``text`` with the pipeline's build outputs added (each once, under one comment)."""
    have = {_ignored(line) for line in text.splitlines()}
    missing = [f"/{name}/" for name in BUILD_OUTPUTS if name not in have]
    if not missing:
        return text
    body = text if not text or text.endswith("\n") else text + "\n"
    gap = "\n" if body else ""
    return body + gap + _GITIGNORE_HEADER + "\n" + "".join(f"{m}\n" for m in missing)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def plan_adoption(root: Path, answers: Answers) -> AdoptPlan:
    """Decide every file adoption writes, and check it, before anything is written."""
    root = root.resolve()
    left: list[str] = []
    pyproject = root / "pyproject.toml"
    old = _read(pyproject)
    prefix = answers.tag_prefix or "runtime-v"
    if old:
        try:
            build = tomllib.loads(old).get("tool", {}).get("runtime-build", {})
        except tomllib.TOMLDecodeError as exc:
            raise ToolingError(f"{pyproject}: invalid TOML: {exc}; fix it first") from exc
        prefix = answers.tag_prefix or str(build.get("tag-prefix", prefix))
    source = answers.source
    if source is None and old:
        source = str(tomllib.loads(old).get("tool", {}).get("runtime-build", {}).get("source",
                                                                                      "workspace"))
    constants = _defines_compat_constants(root / (source or "workspace"))
    readme = f"{(source or 'workspace').strip('/')}/README.md"
    new = merge_pyproject(old, answers, version=_baseline(root, prefix), left=left,
                          compat_constants=constants,
                          readme=readme if (root / readme).is_file() else None)
    config = parse_config(root, pyproject, tomllib.loads(new))
    changes = [FileChange("pyproject.toml", old, new)]
    gitignore = _read(root / ".gitignore")
    changes.append(FileChange(".gitignore", gitignore, merge_gitignore(gitignore)))
    settings = workflows.settings_from_config(config)
    expected = workflows.expected_files(settings)
    for stale in workflows.find_stale(root, expected):
        if stale.problem == "foreign":
            raise ToolingError(
                f"{stale.path}: a workflow of that name exists and was not generated by the "
                "pipeline; pass --workflow-prefix with another prefix (nothing was written)"
            )
    changes.extend(FileChange(str(f.path), _read(root / f.path), f.text) for f in expected)
    if config.changelog is not None and not config.changelog.exists():
        left.append(f"{config.changelog.relative_to(root).as_posix()}: created by the first "
                    "release; move an older CHANGELOG there if you have one")
    if not (root / "consumers.toml").is_file():
        left.append("consumers.toml: list the repositories that pin the runtime; the "
                    "release's cascade needs at least one (docs/cascade.md)")
    left.extend([
        ("secrets: RUNTIME_INDEX_URL, CASCADE_TOKEN and the twine settings for the "
        f"{settings.prefix}release workflow (docs/ci.md)"),
        ("an older publish workflow: delete it once the new release workflow has run "
        "(docs/adopt.md)"),
        'the first release: invoke release --dry-run (docs/adopt.md, "The first release")',
    ])
    return AdoptPlan(root, tuple(c for c in changes if c.old != c.new), tuple(left))


def describe_adoption(plan: AdoptPlan) -> str:
    """The unified diff of every file adoption would change."""
    out: list[str] = []
    for change in plan.changes:
        out.extend(difflib.unified_diff(
            change.old.splitlines(keepends=True), change.new.splitlines(keepends=True),
            fromfile=f"a/{change.path}", tofile=f"b/{change.path}",
        ))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def apply_adoption(plan: AdoptPlan) -> None:
    """Write every changed file (each atomically)."""
    for change in plan.changes:
        path = plan.root / change.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, change.new)


def _run_doctor(root: Path) -> None:
    # The doctor is optional: a copy of the pipeline without it adopts all the same.
    if importlib.util.find_spec("tooling.doctor") is None:
        return
    # Its own process, in the adopted root: the doctor reads the tree it runs in, and a
    # finding it reports never undoes what was just written.
    done = run([sys.executable, "-m", "tooling.doctor"], cwd=root, check=False,
               what="python -m tooling.doctor")
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.release.adopt``: the same as ``invoke init``."""
    parser = argparse.ArgumentParser(prog="python -m tooling.release.adopt",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root")
    parser.add_argument("--source", help="the folder of bare modules (default: workspace)")
    parser.add_argument("--package", help="the import package (default: molecule_runtime)")
    parser.add_argument("--distribution", help="the distribution name users install")
    parser.add_argument("--tag-prefix", help="release tag prefix (default: runtime-v)")
    parser.add_argument("--release-branch", help="the branch releases are cut from")
    parser.add_argument("--workflow-prefix", help="workflow file prefix (default: runtime-)")
    parser.add_argument("--gitea-version", help="the oldest Gitea the .gitea/ files must work on")
    parser.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    args = parser.parse_args(argv)
    answers = Answers(args.source, args.package, args.distribution, args.tag_prefix,
                      args.release_branch, args.workflow_prefix, args.gitea_version)

    def work() -> int:
        plan = plan_adoption(args.root, answers)
        if args.dry_run:
            print(describe_adoption(plan), end="")
            print(f"{len(plan.changes)} file(s) would change; nothing written (--dry-run)")
        else:
            apply_adoption(plan)
            for change in plan.changes:
                print(f"{'updated' if change.old else 'created'} {change.path}")
            print(f"{len(plan.changes)} file(s) changed" if plan.changes
                  else "already adopted: nothing to change")
            _run_doctor(plan.root)
        if plan.left:
            print("left to decide:")
            print("\n".join(f"  - {line}" for line in plan.left))
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
