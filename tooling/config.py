"""The pipeline's configuration: `[project]` and `[tool.runtime-build]` of pyproject.toml."""

from __future__ import annotations

import difflib
import keyword
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BUILD_KEYS",
    "DEFAULT_EXCLUDES",
    "Config",
    "find_root",
    "load_config",
    "parse_config",
    "read_pyproject",
    "refuse_unknown_keys",
]

# Never shipped whatever the configuration says: bytecode, caches, dotfiles and
# anything that looks like a credential.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "*.egg-info",
)


@dataclass(frozen=True)
class Config:
    """Everything the stages need to know about the project, read once from pyproject.toml."""

    root: Path
    """The repository root (the directory holding pyproject.toml)."""
    pyproject: Path
    """The pyproject.toml file itself."""
    name: str
    """The distribution name, `[project] name`."""
    version: str
    """`[project] version`: the one source of the version."""
    requires_python: str
    """`[project] requires-python`."""
    dependencies: tuple[str, ...]
    """`[project] dependencies`: the runtime's declared requirements."""
    scripts: Mapping[str, str]
    """`[project.scripts]`: console script name to `module:function`."""
    project: Mapping[str, object]
    """The whole `[project]` table, for deriving the staged metadata."""
    source: Path
    """The bare-module source tree (`[tool.runtime-build] source`), absolute."""
    package: str
    """The import package it becomes (`package`)."""
    exclude: tuple[str, ...]
    """Globs relative to `source` that never ship, the defaults included."""
    tests: Path | None
    """The runtime's own tests (`tests`), absolute, if configured."""
    tag_prefix: str
    """Release tags are `tag_prefix + version`."""
    major_on_zero: bool
    """Whether a breaking change before 1.0.0 bumps major (else minor)."""
    compat_aliases: tuple[str, ...]
    """Bare names the package keeps importable through a deprecation hook."""
    api_ignore: Mapping[str, str] = field(default_factory=dict)
    """Public-API paths whose breaking changes are deliberate, each with its reason."""
    release_branch: str = "main"
    """The branch releases are cut from."""
    changelog: Path | None = None
    """`changelog`: the CHANGELOG file, absolute (default: CHANGELOG.md beside pyproject.toml)."""
    release_paths: tuple[str, ...] = ()
    """`release-paths`: extra globs (from the root) whose commits count for the version."""
    stable_imports: tuple[str, ...] = ()
    """`stable-imports`: ``"pkg.mod:Name,Other"`` entries the smoke imports and the gate keeps."""
    api_strict_values: tuple[str, ...] = ()
    """`api-strict-values`: container constants whose value changes stay breaking."""
    release_on_merge: bool = False
    """`release-on-merge`: the release workflow also runs on pushes to the release branch."""
    confirm_major: bool = True
    """`confirm-major`: a major release needs a `release:major` label or a major dispatch."""
    workflow_prefix: str = ""
    """`[tool.runtime-build.workflows] prefix`: file-name prefix of the generated workflows."""
    gitea_version: str = ""
    """`[tool.runtime-build.workflows] gitea-version`: oldest Gitea the files must work on."""

    @property
    def source_rel(self) -> str:
        """`source` relative to the root, POSIX style (``.`` when the root itself)."""
        return self.source.relative_to(self.root).as_posix() if self.source != self.root else "."

    def runtime_globs(self) -> tuple[str, ...]:
        """Root-relative globs of the paths the runtime is made from (docs/versions.md).

        `source` (as ``SRC/**``), pyproject.toml (only its `[project]` table counts; the caller
        checks that) and every `release-paths` glob.  `exclude` is applied by the caller.
        """
        head = "**" if self.source_rel == "." else f"{self.source_rel}/**"
        return (head, "pyproject.toml", *self.release_paths)

    def tag_for(self, version: str) -> str:
        """The release tag for ``version``."""
        return f"{self.tag_prefix}{version}"


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise ToolingError(f"{here}: no pyproject.toml here or above; run from the project root")


def read_pyproject(path: Path) -> dict[str, object]:
    """Parse a pyproject.toml, with a one-line error naming the file on failure."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ToolingError(f"{path}: not found; run from the project root") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ToolingError(f"{path}: invalid TOML: {exc}", path=path) from exc


def _table(data: Mapping[str, object], key: str, where: str) -> Mapping[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ToolingError(f"{where}: `{key}` must be a table")
    return value


def _str(data: Mapping[str, object], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ToolingError(f"{where}: `{key}` must be a non-empty string")
    return value


# Every key of the tables we own; anything else is a typo that would be silently ignored.
BUILD_KEYS = frozenset({
    "source", "package", "exclude", "tests", "tag-prefix", "major-on-zero", "compat-aliases",
    "release-branch", "api-ignore", "smoke", "workflows", "changelog", "release-paths",
    "stable-imports", "api-strict-values", "release-on-merge", "confirm-major", "compat",
})
WORKFLOW_KEYS = frozenset({"prefix", "gitea-version"})


def refuse_unknown_keys(table: Mapping[str, object], known: frozenset[str], where: str) -> None:
    """A one-line error for the first key of ``table`` not in ``known``, with a did-you-mean."""
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            names = ", ".join(sorted(known))
            hint = f"; did you mean `{close[0]}`?" if close else f"; known keys: {names}"
            raise ToolingError(f"{where}: unknown key `{key}`{hint}")


def _bool(data: Mapping[str, object], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ToolingError(f"{where}: `{key}` must be true or false")
    return value


def _str_list(data: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolingError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def load_config(root: Path | None = None) -> Config:
    """Read and validate the project's configuration; every problem names its field."""
    base = find_root(root)
    pyproject = base / "pyproject.toml"
    return parse_config(base, pyproject, read_pyproject(pyproject))


def parse_config(base: Path, pyproject: Path, data: Mapping[str, object]) -> Config:
    """Validate already-parsed pyproject ``data`` as if read from ``pyproject`` under ``base``.

    What ``load_config`` does after reading the file; ``invoke init`` checks a merge with it
    before writing anything.
    """
    project = _table(data, "project", str(pyproject))
    where = f"{pyproject} [project]"
    name = _str(project, "name", where)
    version = validate_version(_str(project, "version", where), where=f"{where} version")
    tool = _table(data, "tool", str(pyproject))
    build = _table(tool, "runtime-build", str(pyproject))
    bwhere = f"{pyproject} [tool.runtime-build]"
    package = _str(build, "package", bwhere, "molecule_runtime")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ToolingError(f"{bwhere}: package {package!r} is not a Python identifier")
    source = (base / _str(build, "source", bwhere, "workspace")).resolve()
    if not source.is_dir():
        raise ToolingError(f"{bwhere}: source {source} is not a directory")
    tests_value = build.get("tests")
    tests = (base / tests_value).resolve() if isinstance(tests_value, str) else None
    scripts = _table(project, "scripts", where)
    ignore = _table(build, "api-ignore", bwhere)
    for key, reason in ignore.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ToolingError(f"{bwhere}.api-ignore: {key!r} needs a reason string")
    refuse_unknown_keys(build, BUILD_KEYS, bwhere)
    major_on_zero = _bool(build, "major-on-zero", bwhere, default=False)
    workflows = _table(build, "workflows", bwhere)
    wwhere = f"{pyproject} [tool.runtime-build.workflows]"
    refuse_unknown_keys(workflows, WORKFLOW_KEYS, wwhere)
    prefix = workflows.get("prefix", "")
    if not isinstance(prefix, str) or "/" in prefix:
        raise ToolingError(f'{wwhere}: `prefix` must be a file-name prefix such as "runtime-"')
    gitea_version = workflows.get("gitea-version", "")
    if not isinstance(gitea_version, str) or (
        gitea_version and not all(p.isdigit() for p in gitea_version.split("."))
    ):
        raise ToolingError(f'{wwhere}: `gitea-version` must look like "1.22"')
    changelog_value = build.get("changelog")
    if changelog_value is not None and not (isinstance(changelog_value, str) and changelog_value):
        raise ToolingError(f'{bwhere}: `changelog` must be a path such as "CHANGELOG.md"')
    return Config(
        root=base,
        pyproject=pyproject,
        name=name,
        version=version,
        requires_python=str(project.get("requires-python", ">=3.11")),
        dependencies=_str_list(project, "dependencies", where),
        scripts={str(k): str(v) for k, v in scripts.items()},
        project=dict(project),
        source=source,
        package=package,
        exclude=DEFAULT_EXCLUDES + _str_list(build, "exclude", bwhere),
        tests=tests,
        tag_prefix=_str(build, "tag-prefix", bwhere, "runtime-v"),
        major_on_zero=major_on_zero,
        compat_aliases=_str_list(build, "compat-aliases", bwhere),
        api_ignore={str(k): str(v) for k, v in ignore.items()},
        release_branch=_str(build, "release-branch", bwhere, "main"),
        changelog=(base / (changelog_value or "CHANGELOG.md")).resolve(),
        release_paths=_str_list(build, "release-paths", bwhere),
        stable_imports=_str_list(build, "stable-imports", bwhere),
        api_strict_values=_str_list(build, "api-strict-values", bwhere),
        release_on_merge=_bool(build, "release-on-merge", bwhere, default=False),
        confirm_major=_bool(build, "confirm-major", bwhere, default=True),
        workflow_prefix=prefix,
        gitea_version=gitea_version,
    )
