"""What the smoke session reads before it runs: its settings, the wheel, the rewritten tests."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.config import read_pyproject, refuse_unknown_keys
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from tooling.config import Config

__all__ = ["SmokeSettings", "dependency_group", "find_wheel", "load_settings", "prepare_tests"]


@dataclass(frozen=True)
class SmokeSettings:
    """``[tool.runtime-build.smoke]``."""

    script: str | None = None
    """Console script for the version and serve checks (default: the only one, if one)."""
    version_check: bool = True
    """``<script> --version`` must print ``[project] version``."""
    serve_check: bool = False
    """Start ``<script> --config FILE`` with the echo adapter, send one A2A message, SIGTERM."""
    workspace_tests: bool = True
    """Run ``[tool.runtime-build] tests``, rewritten, against the installed wheel."""
    test_group: str = "workspace-test"
    """The ``[dependency-groups]`` group installed for those tests."""
    pytest_args: tuple[str, ...] = ("-q",)
    """Extra pytest arguments."""
    tests_timeout: float = 600.0
    """Seconds the workspace tests may take per Python."""
    deps_check: bool = True
    """Run deptry on the shipped package."""
    pythons: tuple[str, ...] = ()
    """Default restriction (versions or paths); ``--python`` and the env variable override."""


def _bool(table: Mapping[str, object], key: str, where: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ToolingError(f"{where}: `{key}` must be true or false")
    return value


def load_settings(config: Config) -> SmokeSettings:
    """Read ``[tool.runtime-build.smoke]``; every problem names its key."""
    data = read_pyproject(config.pyproject)
    tool = data.get("tool", {})
    build = tool.get("runtime-build", {}) if isinstance(tool, dict) else {}
    table = build.get("smoke", {}) if isinstance(build, dict) else {}
    where = f"{config.pyproject} [tool.runtime-build.smoke]"
    if not isinstance(table, dict):
        raise ToolingError(f"{where}: must be a table")
    known = frozenset({
        "script", "version-check", "serve-check", "workspace-tests", "test-group",
        "pytest-args", "tests-timeout", "deps-check", "pythons",
    })
    refuse_unknown_keys(table, known, where)
    script = table.get("script")
    if script is None and len(config.scripts) == 1:
        script = next(iter(config.scripts))
    if script is not None and script not in config.scripts:
        raise ToolingError(f"{where}: script {script!r} is not in [project.scripts]")
    args = table.get("pytest-args", ["-q"])
    pythons = table.get("pythons", [])
    for key, value in (("pytest-args", args), ("pythons", pythons)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ToolingError(f"{where}: `{key}` must be a list of strings")
    timeout = table.get("tests-timeout", 600)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolingError(f"{where}: `tests-timeout` must be a positive number of seconds")
    return SmokeSettings(
        script=script,
        version_check=_bool(table, "version-check", where, default=script is not None),
        serve_check=_bool(table, "serve-check", where, default=False),
        workspace_tests=_bool(table, "workspace-tests", where, default=True),
        test_group=str(table.get("test-group", "workspace-test")),
        pytest_args=tuple(args),
        tests_timeout=float(timeout),
        deps_check=_bool(table, "deps-check", where, default=True),
        pythons=tuple(pythons),
    )


def dependency_group(data: Mapping[str, object], name: str, where: str) -> list[str]:
    """The requirements of ``[dependency-groups] name``, included groups expanded."""
    groups = data.get("dependency-groups", {})
    entries = groups.get(name) if isinstance(groups, dict) else None
    if not isinstance(entries, list):
        raise ToolingError(f"{where} [dependency-groups]: no group {name!r}")
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            out.extend(dependency_group(data, entry["include-group"], where))
    return out


def find_wheel(dist: Path, name: str) -> Path:
    """The one wheel of ``name`` in ``dist``."""
    prefix = name.replace("-", "_").lower() + "-"
    wheels = sorted(p for p in dist.glob("*.whl") if p.name.lower().startswith(prefix))
    if len(wheels) != 1:
        found = "none" if not wheels else ", ".join(p.name for p in wheels)
        raise ToolingError(
            f"{dist}: expected one {name} wheel, found {found}; run `nox -s build` first"
        )
    return wheels[0]


def _pytest_ini(source: Path, run_dir: Path) -> None:
    # The workspace's pytest.ini is for the source layout (`pythonpath = .` would put the bare
    # modules on sys.path); keep its strictness and warning filters, drop its paths.
    ini = source / "pytest.ini"
    parser = configparser.ConfigParser(interpolation=None)
    if ini.is_file():
        parser.read(ini, encoding="utf-8")
    if not parser.has_section("pytest"):
        parser.add_section("pytest")
    for key in ("pythonpath", "testpaths", "rootdir"):
        parser.remove_option("pytest", key)
    with (run_dir / "pytest.ini").open("w", encoding="utf-8") as fh:
        parser.write(fh)


def prepare_tests(config: Config, scratch: Path) -> Path | None:
    """Rewrite the workspace tests for the installed package; return the run directory."""
    if config.tests is None or not config.tests.is_dir():
        return None
    from tooling.rewrite import rewrite_source, rewrite_tree  # noqa: PLC0415 - only when testing

    run_dir = scratch / "tests-run"
    run_dir.mkdir(parents=True)
    tree = rewrite_tree(
        config.source,
        config.package,
        scratch / "rewrite-out",
        tests=config.tests,
        tests_out=run_dir / config.tests.name,
        exclude=config.exclude,
        cache_dir=config.root / "build" / ".cache",
        aliases=config.compat_aliases,
    )
    top_conftest = config.source / "conftest.py"
    if top_conftest.is_file() and config.tests.parent == config.source:
        done = rewrite_source(
            top_conftest.read_bytes(), frozenset(tree.names), config.package,
            path=str(top_conftest),
        )
        (run_dir / "conftest.py").write_bytes(done.code)
    _pytest_ini(config.source, run_dir)
    return run_dir
