"""A test tree as pytest sees it: its configuration file and the names it puts on ``sys.path``.

pytest's rules (docs/rewrite.md "Test trees"): with the default ``--import-mode=prepend`` each
test module's *basedir* (the first folder upwards without ``__init__.py``) is inserted at the
front of ``sys.path``.  A test tree whose top holds ``__init__.py`` is therefore a package
under its parent and shadows nothing; without it, its top-level modules and packages shadow
workspace names of the same name.  ``append`` and ``importlib`` put nothing in front, and
``pythonpath`` entries inside the test tree shadow what they hold.
"""

from __future__ import annotations

import configparser
import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.rewrite._walk import discover_names

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "IMPORT_MODES",
    "PytestConfig",
    "drop_coverage",
    "read_pytest_config",
    "shadowing_names",
    "shadowing_sources",
]

IMPORT_MODES = ("prepend", "append", "importlib")
"""pytest's ``--import-mode`` values."""

# The files pytest reads its configuration from, in the order it looks in each folder.
_CANDIDATES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
# Coverage options (pytest-cov) whose value may be a separate argument.
_COV_VALUED = ("--cov-report", "--cov-fail-under", "--cov-config", "--cov-context", "--cov")


@dataclass(frozen=True)
class PytestConfig:
    """The pytest configuration that applies to a test tree."""

    file: Path | None
    """The configuration file found (None: pytest's defaults)."""
    options: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    """Every ini option of it: a string, or a tuple for TOML lists (``addopts`` included)."""

    @property
    def directory(self) -> Path | None:
        """The folder of the configuration file (pytest's rootdir unless told otherwise)."""
        return self.file.parent if self.file is not None else None

    @property
    def addopts(self) -> tuple[str, ...]:
        """``addopts`` as arguments."""
        return _split(self.options.get("addopts", ""))

    @property
    def import_mode(self) -> str:
        """``--import-mode`` from ``addopts`` (default ``prepend``)."""
        mode = "prepend"
        args = self.addopts
        for i, arg in enumerate(args):
            if arg.startswith("--import-mode="):
                mode = arg.partition("=")[2]
            elif arg == "--import-mode" and i + 1 < len(args):
                mode = args[i + 1]
        return mode

    @property
    def rootdir(self) -> Path | None:
        """``--rootdir`` from ``addopts`` (absolute), else the configuration file's folder."""
        args = self.addopts
        for i, arg in enumerate(args):
            value = None
            if arg.startswith("--rootdir="):
                value = arg.partition("=")[2]
            elif arg == "--rootdir" and i + 1 < len(args):
                value = args[i + 1]
            if value is not None and self.directory is not None:
                return (self.directory / os.path.expandvars(value)).resolve()
        return self.directory

    @property
    def pythonpath(self) -> tuple[Path, ...]:
        """``pythonpath`` entries, absolute (relative ones are relative to the file's folder)."""
        if self.directory is None:
            return ()
        raw = self.options.get("pythonpath", ())
        entries = raw.split() if isinstance(raw, str) else raw
        return tuple((self.directory / entry).resolve() for entry in entries)


def _split(value: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(arg for item in value for arg in shlex.split(item))
    try:
        return tuple(shlex.split(value))
    except ValueError as exc:
        raise ToolingError(f"pytest addopts {value!r}: {exc}; fix its quoting") from exc


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ToolingError(f"{path}: cannot read: {exc}; fix the file", path=path) from exc
    if not parser.has_section(section):
        return None
    return dict(parser.items(section))


def _read(path: Path) -> dict[str, str | tuple[str, ...]] | None:
    """The pytest options ``path`` holds, or None when it holds no pytest section."""
    if path.name in {"pytest.ini", ".pytest.ini"}:
        return dict(_ini_section(path, "pytest") or {})  # always counts, even without a section
    if path.name == "pyproject.toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ToolingError(f"{path}: cannot read: {exc}; fix the file", path=path) from exc
        tool = data.get("tool", {})
        table = tool.get("pytest", {}).get("ini_options") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            return None
        return {
            str(k): tuple(str(x) for x in v) if isinstance(v, list) else str(v)
            for k, v in table.items()
        }
    section = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    found = _ini_section(path, section)
    return dict(found) if found is not None else None


def read_pytest_config(tests: Path) -> PytestConfig:
    """The configuration pytest uses for ``tests``: the first file found walking upwards."""
    for folder in (tests, *tests.parents):
        for name in _CANDIDATES:
            candidate = folder / name
            if candidate.is_file():
                options = _read(candidate)
                if options is not None:
                    return PytestConfig(candidate, options)
    return PytestConfig(None)


def drop_coverage(args: Sequence[str]) -> tuple[str, ...]:
    """``args`` without pytest-cov options (``--cov*``, ``--no-cov*``) and their values."""
    out: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            if not arg.startswith("-"):
                continue
        if arg.startswith(("--cov", "--no-cov")):
            skip_value = arg in _COV_VALUED
            continue
        out.append(arg)
    return tuple(out)


def _test_files(tests: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(tests):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name == "conftest.py" or (
                name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
            ):
                yield Path(root) / name


def _basedir(path: Path) -> Path:
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def shadowing_sources(tests: Path, source: Path, config: PytestConfig) -> tuple[Path, ...]:
    """The folders inside ``tests`` that pytest puts ahead of ``source`` on ``sys.path``."""
    tests = tests.resolve()
    source = source.resolve()
    found: list[Path] = []
    path_entries = list(config.pythonpath)
    for entry in path_entries:
        inside = entry == tests or entry.is_relative_to(tests)
        ahead = source not in path_entries or path_entries.index(entry) < path_entries.index(
            source
        )
        if inside and ahead and entry.is_dir():
            found.append(entry)
    if config.import_mode == "prepend":
        for test_file in _test_files(tests):
            base = _basedir(test_file.resolve())
            if (base == tests or base.is_relative_to(tests)) and base not in found:
                found.append(base)
    return tuple(found)


def shadowing_names(
    tests: Path, source: Path, config: PytestConfig | None = None
) -> frozenset[str]:
    """Names the test tree itself defines where pytest's import makes them win over ``source``."""
    config = config if config is not None else read_pytest_config(tests)
    if config.import_mode not in IMPORT_MODES:
        where = config.file or tests
        raise ToolingError(
            f"{where}: --import-mode={config.import_mode} is not one of {', '.join(IMPORT_MODES)}"
        )
    names: set[str] = set()
    for folder in shadowing_sources(tests, source, config):
        names |= discover_names(folder)
    return frozenset(names)
