"""The pipeline's configuration: `[project]` and `[tool.runtime-build]` of pyproject.toml."""

from __future__ import annotations

import difflib
import keyword
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BUILD_KEYS",
    "DEFAULT_COMPAT_CONSTANTS",
    "DEFAULT_EXCLUDES",
    "Config",
    "StableImport",
    "config_from_data",
    "find_root",
    "load_config",
    "parse_config",
    "parse_pyproject_text",
    "parse_stable_import",
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

# compat.json field -> the module-level constant it is read from (docs/api-diff.md).
DEFAULT_COMPAT_CONSTANTS: Mapping[str, str] = MappingProxyType({
    "adapter_protocol_version": "ADAPTER_PROTOCOL_VERSION",
    "plugin_api_version": "PLUGIN_API_VERSION",
})


@dataclass(frozen=True)
class StableImport:
    """One `stable-imports` entry: ``"pkg.mod:Name,Other"``, or ``"pkg.mod"`` alone."""

    entry: str
    """The entry as written."""
    module: str
    """The dotted module imported, e.g. ``molecule_runtime.adapters``."""
    names: tuple[str, ...]
    """The names imported from it (empty: the module itself)."""

    @property
    def paths(self) -> tuple[str, ...]:
        """The public dotted paths the entry promises (the module's when it names nothing)."""
        return tuple(f"{self.module}.{n}" for n in self.names) or (self.module,)


def parse_stable_import(entry: str, where: str) -> StableImport:
    """Parse one `stable-imports` entry, with a one-line error naming it when malformed."""
    module, _, names_text = entry.partition(":")
    module = module.strip()
    names = tuple(n.strip() for n in names_text.split(",")) if names_text.strip() else ()
    dotted = module.split(".")
    if not module or not all(p.isidentifier() and not keyword.iskeyword(p) for p in dotted) or (
        not all(n.isidentifier() for n in names)
    ):
        raise ToolingError(
            f'{where}: `stable-imports` entry {entry!r} must look like "pkg.module:Name,Other"'
        )
    return StableImport(entry, module, names)


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
    compat_constants: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_COMPAT_CONSTANTS)
    )
    """`[tool.runtime-build.compat] constants`: compat.json field -> module-level constant."""
    compat_required: bool = True
    """`[tool.runtime-build.compat] required`: a constant missing from the tree is an error."""

    def stable_import_entries(self) -> tuple[StableImport, ...]:
        """`stable_imports` parsed (validated when the configuration was read)."""
        return tuple(parse_stable_import(e, "stable-imports") for e in self.stable_imports)

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


def parse_pyproject_text(text: str, where: str) -> dict[str, object]:
    """Parse pyproject.toml text read from elsewhere (a git ref), naming ``where`` on failure."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ToolingError(f"{where}: invalid TOML: {exc}") from exc


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
COMPAT_KEYS = frozenset({"constants", "required"})


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
    return config_from_data(read_pyproject(pyproject), base, pyproject)


def parse_config(base: Path, pyproject: Path, data: Mapping[str, object]) -> Config:
    """Validate already-parsed pyproject ``data`` as if read from ``pyproject`` under ``base``.

    What ``load_config`` does after reading the file; ``invoke init`` checks a merge with it
    before writing anything.
    """
    return config_from_data(data, base, pyproject)


def _compat(
    build: Mapping[str, object], bwhere: str, *, strict: bool
) -> tuple[Mapping[str, str], bool]:
    table = _table(build, "compat", bwhere)
    where = f"{bwhere.removesuffix(']')}.compat]"
    if strict:
        refuse_unknown_keys(table, COMPAT_KEYS, where)
    constants = table.get("constants", DEFAULT_COMPAT_CONSTANTS)
    if not isinstance(constants, dict | MappingProxyType) or not all(
        isinstance(k, str) and isinstance(v, str) and v.isidentifier() for k, v in constants.items()
    ):
        raise ToolingError(f"{where}: `constants` must map compat.json fields to constant names")
    return dict(constants), _bool(table, "required", where, default=True)


def _workflows(build: Mapping[str, object], bwhere: str, *, strict: bool) -> tuple[str, str]:
    workflows = _table(build, "workflows", bwhere)
    wwhere = f"{bwhere.removesuffix(']')}.workflows]"
    if strict:
        refuse_unknown_keys(workflows, WORKFLOW_KEYS, wwhere)
    prefix = workflows.get("prefix", "")
    if not isinstance(prefix, str) or "/" in prefix:
        raise ToolingError(f'{wwhere}: `prefix` must be a file-name prefix such as "runtime-"')
    gitea_version = workflows.get("gitea-version", "")
    if not isinstance(gitea_version, str) or (
        gitea_version and not all(p.isdigit() for p in gitea_version.split("."))
    ):
        raise ToolingError(f'{wwhere}: `gitea-version` must look like "1.22"')
    return prefix, gitea_version


def config_from_data(
    data: Mapping[str, object], root: Path, pyproject: Path, *, at_ref: str | None = None
) -> Config:
    """Validate already-parsed pyproject data into a Config; every problem names its field.

    ``at_ref`` names the git ref the data was read from: the source directory is then not
    required to exist on disk, and ``pyproject`` is only used in messages.
    """
    base = root
    shown = f"{at_ref}:pyproject.toml" if at_ref else str(pyproject)
    project = _table(data, "project", shown)
    where = f"{shown} [project]"
    name = _str(project, "name", where)
    version = validate_version(_str(project, "version", where), where=f"{where} version")
    tool = _table(data, "tool", shown)
    build = _table(tool, "runtime-build", shown)
    bwhere = f"{shown} [tool.runtime-build]"
    package = _str(build, "package", bwhere, "molecule_runtime")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ToolingError(f"{bwhere}: package {package!r} is not a Python identifier")
    source = (base / _str(build, "source", bwhere, "workspace")).resolve()
    if at_ref is None and not source.is_dir():
        raise ToolingError(f"{bwhere}: source {source} is not a directory")
    tests_value = build.get("tests")
    tests = (base / tests_value).resolve() if isinstance(tests_value, str) else None
    scripts = _table(project, "scripts", where)
    ignore = _table(build, "api-ignore", bwhere)
    for key, reason in ignore.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ToolingError(f"{bwhere}.api-ignore: {key!r} needs a reason string")
    if at_ref is None:  # history cannot be fixed: a ref's retired keys are skipped, not refused
        refuse_unknown_keys(build, BUILD_KEYS, bwhere)
    major_on_zero = _bool(build, "major-on-zero", bwhere, default=False)
    prefix, gitea_version = _workflows(build, bwhere, strict=at_ref is None)
    changelog_value = build.get("changelog")
    if changelog_value is not None and not (isinstance(changelog_value, str) and changelog_value):
        raise ToolingError(f'{bwhere}: `changelog` must be a path such as "CHANGELOG.md"')
    stable_imports = _str_list(build, "stable-imports", bwhere)
    for entry in stable_imports:
        parse_stable_import(entry, bwhere)
    compat_constants, compat_required = _compat(build, bwhere, strict=at_ref is None)
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
        stable_imports=stable_imports,
        api_strict_values=_str_list(build, "api-strict-values", bwhere),
        release_on_merge=_bool(build, "release-on-merge", bwhere, default=False),
        confirm_major=_bool(build, "confirm-major", bwhere, default=True),
        workflow_prefix=prefix,
        gitea_version=gitea_version,
        compat_constants=compat_constants,
        compat_required=compat_required,
    )
