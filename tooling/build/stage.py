"""Stage ``workspace/`` as a buildable project: rewritten package + derived pyproject.toml.

``build/stage/`` is replaced atomically (built in a temp dir beside it, then renamed into
place), so a failed stage never leaves a partial tree behind.  The staged project names the
plain standard backend (flit_core); everything the pipeline adds (``py.typed``,
``__version__`` from importlib.metadata, ``compat.json``) happens here and only here.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tomlkit

from tooling.api.compat import write_compat
from tooling.build.messages import relocated
from tooling.cli import guarded, step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import replace_dir
from tooling.proc import run
from tooling.rewrite import rewrite_tree
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tooling.config import Config

__all__ = [
    "FALLBACK_EPOCH",
    "STAGE_BACKEND",
    "StageResult",
    "check_entry_points",
    "main",
    "source_date_epoch",
    "stage",
    "staged_files",
]

STAGE_BACKEND = {"requires": ["flit_core>=3.11,<5"], "build-backend": "flit_core.buildapi"}
"""The staged project's ``[build-system]``: a plain standard backend, nothing in-tree."""
FALLBACK_EPOCH = 315532800
"""``SOURCE_DATE_EPOCH`` outside git: 1980-01-01T00:00:00Z, the earliest time a zip can hold."""

# Appended to the staged __init__.py: the version's one source is [project] version, which
# reaches the installed package only through its metadata (docs/versions.md).
_VERSION_BLOCK = """
# Added by the build (tooling/build/stage.py): the version lives only in the distribution's
# metadata.
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _distribution_version

try:
    __version__ = _distribution_version("{dist}")
except _PackageNotFoundError:  # imported from a tree that was never installed
    __version__ = "0+unknown"
del _PackageNotFoundError, _distribution_version
"""


@dataclass(frozen=True)
class StageResult:
    """What `stage` produced."""

    root: Path
    """The staged project directory (``build/stage`` by default): pyproject, readme, package."""
    package_dir: Path
    """``root / PKG``: the rewritten import package."""
    pyproject: Path
    """The derived pyproject.toml the standard backend builds from."""
    files: tuple[str, ...]
    """Every staged file, POSIX paths relative to ``root``, sorted."""
    names: frozenset[str]
    """The workspace names discovered and prefixed (excluded ones included)."""
    rewritten: int
    """Modules whose imports the rewriter changed."""
    cached: int
    """Modules the rewriter served from its cache."""
    seconds: float
    """Wall time of the whole stage."""

    @property
    def modules(self) -> tuple[str, ...]:
        """The staged package's files (``PKG/...``), what the wheel must hold exactly."""
        prefix = f"{self.package_dir.name}/"
        return tuple(f for f in self.files if f.startswith(prefix))


def source_date_epoch(root: Path, env: Mapping[str, str] | None = None) -> int:
    """The build timestamp: ``$SOURCE_DATE_EPOCH``, else the last commit's, else 1980-01-01.

    The last commit's time makes two builds of one commit byte-identical; the fixed fallback
    keeps builds outside git (an unpacked sdist, a tarball) reproducible too.
    """
    environ = os.environ if env is None else env
    given = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if given:
        if not given.isdigit():
            raise ToolingError(f"SOURCE_DATE_EPOCH={given!r}: must be whole seconds since 1970")
        return int(given)
    try:
        done = run(["git", "log", "-1", "--format=%ct"], cwd=root, check=False)
    except ToolingError:  # no git on PATH
        return FALLBACK_EPOCH
    stamp = done.stdout.strip()
    return int(stamp) if done.returncode == 0 and stamp.isdigit() else FALLBACK_EPOCH


def staged_files(root: Path) -> tuple[str, ...]:
    """Every file below ``root`` as sorted POSIX relative paths."""
    return tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))


@contextlib.contextmanager
def _temp_beside(dest: Path) -> Iterator[Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-tmp-", dir=dest.parent))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _readme_paths(config: Config) -> tuple[str | None, list[Path]]:
    """The staged ``readme`` value and the files to copy for it and for the license."""
    project = config.project
    copies: list[Path] = []
    readme = project.get("readme")
    staged_readme: str | None = None
    where = f"{config.pyproject} [project]"
    if isinstance(readme, str):
        readme_file = config.root / readme
        staged_readme = readme_file.name
    elif isinstance(readme, dict) and isinstance(readme.get("file"), str):
        readme_file = config.root / readme["file"]
        staged_readme = readme_file.name
    else:
        readme_file = None
    if readme_file is not None:
        if not readme_file.is_file():
            raise ToolingError(f"{where} readme: {readme_file} not found; fix the path")
        copies.append(readme_file)
    license_value = project.get("license")
    if isinstance(license_value, dict) and isinstance(license_value.get("file"), str):
        copies.append(config.root / license_value["file"])
    for pattern in project.get("license-files", []) or []:  # type: ignore[attr-defined]
        copies.extend(sorted(p for p in config.root.glob(str(pattern)) if p.is_file()))
    return staged_readme, copies


def _derived_pyproject(config: Config, staged_readme: str | None) -> str:
    """The staged pyproject.toml: `[project]` as written (comments kept) + flit's module name."""
    if "dynamic" in config.project:
        raise ToolingError(
            f"{config.pyproject} [project] dynamic: not supported; give every field statically"
        )
    document = tomlkit.parse(config.pyproject.read_text(encoding="utf-8"))
    project = document["project"]
    derived = tomlkit.document()
    derived.add(tomlkit.comment(f"Staged from {config.pyproject.name} by tooling/build/stage.py."))
    build_system = tomlkit.table()
    build_system["requires"] = STAGE_BACKEND["requires"]
    build_system["build-backend"] = STAGE_BACKEND["build-backend"]
    derived["build-system"] = build_system
    readme = project.get("readme")
    if isinstance(readme, str):
        project["readme"] = staged_readme
    elif readme is not None:
        readme["file"] = staged_readme
    license_value = project.get("license")
    if isinstance(license_value, dict) and "file" in license_value:
        license_value["file"] = Path(str(license_value["file"])).name
    derived["project"] = project
    module = tomlkit.table()
    module["name"] = config.package
    flit = tomlkit.table(is_super_table=True)
    flit["module"] = module
    tool = tomlkit.table(is_super_table=True)
    tool["flit"] = flit
    derived["tool"] = tool
    return tomlkit.dumps(derived)


def _top_level_names(tree: ast.Module) -> tuple[set[str], bool]:
    """Names bound at module level (through if/try/with blocks), and whether it is dynamic."""
    names: set[str] = set()
    dynamic = False
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            dynamic |= node.name == "__getattr__"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                dynamic |= alias.name == "*"
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            for field in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)
    return names, dynamic


def _module_file(package_root: Path, module: str) -> Path | None:
    base = package_root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_entry_points(config: Config, stage_root: Path) -> None:
    """Fail unless every ``[project.scripts]``/``gui-scripts`` target exists in the staged package.

    Static (ast), so a target is checked without importing the package or its dependencies.
    """
    groups: dict[str, Mapping[str, object]] = {"scripts": config.scripts}
    gui = config.project.get("gui-scripts")
    if isinstance(gui, dict):
        groups["gui-scripts"] = gui
    for group, entries in groups.items():
        for name, target in entries.items():
            where = f"{config.pyproject} [project.{group}] {name}"
            module, sep, attr = str(target).partition(":")
            if not sep or not module or not attr or not all(
                part.isidentifier() for part in [*module.split("."), *attr.split(".")]
            ):
                raise ToolingError(
                    f"{where}: target {target!r} is not `module:function`", path=config.pyproject
                )
            if module.split(".")[0] != config.package:
                raise ToolingError(
                    f"{where}: target {target!r} is outside the package {config.package}; "
                    f"point it at {config.package}.<module>:<function>",
                    path=config.pyproject,
                )
            path = _module_file(stage_root, module)
            if path is None:
                raise ToolingError(
                    f"{where}: target {target!r}: module {module} is not in the staged package "
                    f"(is it excluded or missing from {config.source.name}/?)",
                    path=config.pyproject,
                )
            names, dynamic = _top_level_names(ast.parse(path.read_bytes(), filename=str(path)))
            head = attr.split(".")[0]
            if head not in names and not dynamic:
                raise ToolingError(
                    f"{where}: target {target!r}: {module} defines no {head}; "
                    f"add it or fix the entry point",
                    path=config.pyproject,
                )


def _add_version(config: Config, package_dir: Path) -> None:
    init = package_dir / "__init__.py"
    code = init.read_bytes()
    names, _ = _top_level_names(ast.parse(code, filename=str(init)))
    if "__version__" in names:
        source_init = config.source / "__init__.py"
        raise ToolingError(
            f"{source_init}: defines __version__; remove it, the build adds one read from "
            "importlib.metadata ([project] version is the one source)",
            path=source_init,
        )
    newline = b"\r\n" if b"\r\n" in code else b"\n"
    block = _VERSION_BLOCK.format(dist=config.name).encode("ascii").replace(b"\n", newline)
    if code and not code.endswith(newline):
        code += newline
    init.write_bytes(code + block)


def _write_compat(config: Config, package_dir: Path, cache_dir: Path) -> None:
    write_compat(config, package_dir, cache_dir=cache_dir)


@contextlib.contextmanager
def _pointing_home(temp: Path, config: Config, dest: Path) -> Iterator[None]:
    """Errors name the source file (or ``build/stage``), never the temp folder being deleted."""
    try:
        yield
    except ToolingError as exc:
        raise relocated(exc, {temp / config.package: config.source, temp: dest}) from exc


def stage(
    config: Config,
    out: Path | None = None,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
) -> StageResult:
    """Stage the workspace as a buildable project at ``out`` (default ``build/stage``)."""
    start = time.perf_counter()
    dest = (out or config.root / "build" / "stage").resolve()
    validate_version(config.version, where=f"{config.pyproject} [project] version")
    staged_readme, copies = _readme_paths(config)
    cache_dir = cache_dir if cache_dir is not None else config.root / "build" / ".cache"
    with _temp_beside(dest) as temp, _pointing_home(temp, config, dest):
        tree = rewrite_tree(
            config.source,
            config.package,
            temp,
            exclude=config.exclude,
            jobs=jobs,
            cache_dir=cache_dir,
            aliases=config.compat_aliases,
        )
        package_dir = temp / config.package
        check_entry_points(config, temp)
        _add_version(config, package_dir)
        (package_dir / "py.typed").write_bytes(b"")
        for path in copies:
            if not path.is_file():
                raise ToolingError(f"{config.pyproject} [project]: {path} not found; fix the path")
            shutil.copyfile(path, temp / path.name)
        (temp / "pyproject.toml").write_text(
            _derived_pyproject(config, staged_readme), encoding="utf-8"
        )
        _write_compat(config, package_dir, cache_dir)
        files = staged_files(temp)
        replace_dir(temp, dest)
    return StageResult(
        root=dest,
        package_dir=dest / config.package,
        pyproject=dest / "pyproject.toml",
        files=files,
        names=frozenset(tree.names),
        rewritten=int(tree.rewritten),
        cached=int(tree.cached),
        seconds=time.perf_counter() - start,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.build.stage``: stage the workspace into build/stage/."""
    parser = argparse.ArgumentParser(prog="python -m tooling.build.stage", description=__doc__)
    parser.add_argument("--out", type=Path, help="staged project directory (default build/stage)")
    parser.add_argument("--jobs", type=int, help="rewriter worker processes")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    def work() -> int:
        config = load_config()
        with step("stage", quiet=args.json):
            result = stage(config, args.out, jobs=args.jobs)
        if args.json:
            print(json.dumps({
                "root": str(result.root),
                "files": list(result.files),
                "names": sorted(result.names),
                "rewritten": result.rewritten,
                "cached": result.cached,
                "seconds": round(result.seconds, 3),
            }, indent=2))
        else:
            print(
                f"staged {len(result.modules)} package files into {result.root} "
                f"({result.rewritten} rewritten, {result.cached} cached, {result.seconds:.2f}s)"
            )
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
