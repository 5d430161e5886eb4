"""Where the workspace tests run: a folder laid out like the source tree, around the wheel.

``prepare_tests`` rewrites the tests once.  ``arrange`` builds, per Python, a run folder in
which the package directory and the tests stand as they stand in the source tree: the
package directory is a folder of symbolic links to the *installed* files (so a test reading
``Path(__file__).parent.parent / "x.py"`` reads the installed, rewritten module; nothing is
written into site-packages), the tests are the rewritten copy.  The tree's own pytest
configuration is carried over minus what cannot apply (docs/build.md "Workspace tests").
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.rewrite import drop_coverage, read_pytest_config, rewrite_source, rewrite_tree
from tooling.smoke.testrun import merge_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.config import Config
    from tooling.rewrite import PytestConfig

__all__ = ["PreparedTests", "RunFolder", "arrange", "prepare_tests", "pytest_argv", "source_argv"]

# Options that locate things in the source layout; the run sets its own.
_DROPPED_OPTIONS = frozenset({"addopts", "testpaths", "pythonpath", "junit_family", "cache_dir"})


@dataclass(frozen=True)
class PreparedTests:
    """The rewritten tests and what the runs need to know about the tree's layout."""

    mirror: Path
    """A folder holding the rewritten tests (and top conftest) at their source-relative place."""
    anchor: Path
    """The source folder the mirror stands for (the parent of ``source`` if it holds the tests)."""
    package_rel: str
    """Where ``source`` stands below ``anchor`` (the package directory's place in a run)."""
    tests_rel: str
    """Where the tests stand below ``anchor``."""
    rootdir_rel: str
    """pytest's rootdir below ``anchor`` ("" for the anchor itself)."""
    config: PytestConfig
    """The tree's own pytest configuration."""
    names: tuple[str, ...]
    """Top-level entries of ``source`` (what the package directory links, when installed)."""


@dataclass(frozen=True)
class RunFolder:
    """One Python's run folder."""

    root: Path
    """The folder standing for the anchor."""
    tests: Path
    """The rewritten tests inside it."""
    rootdir: Path
    """pytest's rootdir inside it."""
    ini: Path
    """The derived pytest configuration file."""
    package: Path
    """The package directory: links to the installed files."""


def _rel(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix() if path != base else ""


def _anchor(source: Path, tests: Path) -> Path:
    common = Path(os.path.commonpath([source, tests]))
    return source.parent if common == source else common


def prepare_tests(config: Config, scratch: Path) -> PreparedTests | None:
    """Rewrite the workspace tests for the installed package, once; None if there are none."""
    if config.tests is None or not config.tests.is_dir():
        return None
    source, tests = config.source, config.tests
    anchor = _anchor(source, tests)
    mirror = scratch / "tests-run"
    tests_out = mirror / _rel(tests, anchor)
    tests_out.parent.mkdir(parents=True, exist_ok=True)
    tree = rewrite_tree(
        source,
        config.package,
        scratch / "rewrite-out",
        tests=tests,
        tests_out=tests_out,
        exclude=config.exclude,
        cache_dir=config.root / "build" / ".cache",
        aliases=config.compat_aliases,
    )
    top_conftest = source / "conftest.py"
    if top_conftest.is_file() and tests.is_relative_to(source):
        done = rewrite_source(
            top_conftest.read_bytes(), frozenset(tree.names), config.package,
            path=str(top_conftest),
        )
        target = mirror / _rel(source, anchor) / "conftest.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(done.code)
    pytest_config = read_pytest_config(tests)
    rootdir = pytest_config.rootdir or source
    rootdir_rel = _rel(rootdir, anchor) if rootdir.is_relative_to(anchor) else ""
    names = tuple(sorted(
        p.name for p in source.iterdir() if p.name != "__pycache__" and p != tests
    ))
    return PreparedTests(
        mirror=mirror, anchor=anchor, package_rel=_rel(source, anchor),
        tests_rel=_rel(tests, anchor), rootdir_rel=rootdir_rel, config=pytest_config,
        names=names,
    )


def _addopts(config: PytestConfig) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for arg in drop_coverage(config.addopts):
        if skip:
            skip = False
            continue
        if arg == "--rootdir":
            skip = True
            continue
        if not arg.startswith("--rootdir="):
            out.append(arg)
    return tuple(out)


def _write_ini(path: Path, config: PytestConfig, pythonpath: Sequence[Path]) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.add_section("pytest")
    for key, value in config.options.items():
        if key in _DROPPED_OPTIONS:
            continue
        text = "\n".join(value) if isinstance(value, tuple) else value
        if key == "required_plugins":  # coverage is dropped, so is its plugin requirement
            text = " ".join(p for p in text.split() if not p.startswith("pytest-cov"))
        parser.set("pytest", key, text)
    parser.set("pytest", "addopts", shlex.join(_addopts(config)))
    if pythonpath:
        parser.set("pytest", "pythonpath", " ".join(os.fspath(p) for p in pythonpath))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        parser.write(fh)


def arrange(prepared: PreparedTests, installed: Path, cwd: Path) -> RunFolder:
    """Lay out one Python's run folder in ``cwd`` around the package installed at ``installed``."""
    root = cwd / "workspace-tests"
    shutil.copytree(prepared.mirror, root, symlinks=True)
    package = root / prepared.package_rel
    package.mkdir(parents=True, exist_ok=True)
    for name in prepared.names:
        target = installed / name
        link = package / name
        if (target.exists() or target.is_symlink()) and not link.exists():
            link.symlink_to(target, target_is_directory=target.is_dir())
    tests = root / prepared.tests_rel
    # Only pythonpath entries inside the test tree apply: the others put the source on sys.path.
    source_tests = prepared.anchor / prepared.tests_rel
    kept = [
        tests / p.relative_to(source_tests)
        for p in prepared.config.pythonpath
        if p == source_tests or p.is_relative_to(source_tests)
    ]
    ini = cwd / "pytest-wheel.ini"
    _write_ini(ini, prepared.config, kept)
    return RunFolder(root=root, tests=tests, rootdir=root / prepared.rootdir_rel, ini=ini,
                     package=package)


def pytest_argv(
    python: Path, *, isolated: bool, ini: Path, rootdir: Path, tests: Path,
    config: PytestConfig, extra: Sequence[str], confcutdir: Path,
) -> list[str]:
    """One pytest command line: the derived config, its rootdir, every module collected."""
    flags = ["-I", "-B"] if isolated else ["-B"]
    return [
        os.fspath(python), *flags, "-m", "pytest", "-p", "no:cacheprovider",
        "-c", os.fspath(ini), "--rootdir", os.fspath(rootdir),
        "--confcutdir", os.fspath(confcutdir),
        "--continue-on-collection-errors",
        *merge_args(_addopts(config), extra), os.fspath(tests),
    ]


def source_argv(
    prepared: PreparedTests, python: Path, scratch: Path, extra: Sequence[str]
) -> tuple[list[str], Path]:
    """The command line and working folder of the run on the source layout."""
    ini = scratch / "pytest-source.ini"
    _write_ini(ini, prepared.config, prepared.config.pythonpath)
    source = prepared.anchor / prepared.package_rel
    argv = pytest_argv(
        python, isolated=False, ini=ini, rootdir=prepared.anchor / prepared.rootdir_rel,
        tests=prepared.anchor / prepared.tests_rel, config=prepared.config, extra=extra,
        confcutdir=prepared.anchor,
    )
    return argv, source
