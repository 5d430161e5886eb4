"""``nox -s smoke``: prove the built wheel works, in a fresh venv per Python 3.11+ found.

Per Python, in ``.nox/smoke-envs/<X.Y>``: install exactly ``dist/<wheel>`` (reinstalled every
run, so a rebuilt wheel at an unchanged version is the one smoked) with its declared
dependencies from the index; then, from a temp directory outside the repository with
``python -I``: prove the installed files are the wheel's, import every module (all failures
listed), load every entry point, run ``<script> --version``, start the runtime with the echo
adapter and talk A2A to it, and run the workspace's own tests, rewritten, against the wheel.
Once: deptry on the shipped package against ``[project] dependencies``.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config, read_pyproject
from tooling.errors import ToolingError
from tooling.pythons import PYTHONS_ENV, PythonInfo, find_pythons, parse_restriction
from tooling.smoke_checks import (
    CheckResult,
    Probe,
    check_deps,
    check_record,
    check_serve,
    check_version,
    ensure_venv,
    install_wheel,
    probe_installed,
    requirement_names,
    run_workspace_tests,
    wheel_record,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from tooling.config import Config

__all__ = [
    "CHECKS",
    "PythonReport",
    "SmokeReport",
    "SmokeSettings",
    "find_wheel",
    "load_settings",
    "main",
    "prepare_tests",
    "run_smoke",
]

CHECKS = ("venv", "install", "wheel", "imports", "entry-points", "version", "serve", "tests")
"""The per-Python checks, in the order they run."""


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


@dataclass(frozen=True)
class PythonReport:
    """Every check on one Python."""

    python: PythonInfo
    """The interpreter."""
    venv: Path
    """The smoke venv used."""
    checks: tuple[CheckResult, ...]
    """The checks, in order (skipped ones included)."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)


@dataclass(frozen=True)
class SmokeReport:
    """The whole smoke run."""

    wheel: Path
    """The wheel smoked."""
    wheel_sha256: str
    """Its sha256: the installed files were proved to be this wheel's."""
    pythons: tuple[PythonReport, ...]
    """One report per Python."""
    deps: CheckResult | None
    """The deptry check (None when switched off)."""
    seconds: float = 0.0
    """Wall time."""
    failures: tuple[str, ...] = field(default=())
    """Every failure as ``[X.Y] check: detail`` lines."""

    @property
    def ok(self) -> bool:
        """Whether everything passed."""
        return all(p.ok for p in self.pythons) and (self.deps is None or self.deps.ok)


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
    known = {
        "script", "version-check", "serve-check", "workspace-tests", "test-group",
        "pytest-args", "tests-timeout", "deps-check", "pythons",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise ToolingError(
            f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
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


def _group(data: Mapping[str, object], name: str, where: str) -> list[str]:
    groups = data.get("dependency-groups", {})
    entries = groups.get(name) if isinstance(groups, dict) else None
    if not isinstance(entries, list):
        raise ToolingError(f"{where} [dependency-groups]: no group {name!r}")
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            out.extend(_group(data, entry["include-group"], where))
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


class _Once:
    """The first probe's dependency-to-module map, handed to deptry as soon as it exists."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._value: Mapping[str, tuple[str, ...]] = {}

    def set(self, value: Mapping[str, tuple[str, ...]]) -> None:
        with self._lock:
            if not self._event.is_set():
                self._value = value
                self._event.set()

    def get(self) -> Mapping[str, tuple[str, ...]]:
        self._event.wait()
        return self._value


@dataclass(frozen=True)
class _Context:
    config: Config
    settings: SmokeSettings
    wheel: Path
    record: Mapping[str, str]
    extra: tuple[str, ...]
    deps: tuple[str, ...]
    tests_run: Path | None
    index_url: str | None
    envs: Path
    emit: Callable[[str, CheckResult], None]
    first_probe: _Once
    slots: threading.Semaphore


def _skip(name: str, why: str) -> CheckResult:
    return CheckResult(name, ok=True, detail=why, skipped=True)


def _from_probe(probe: Probe, seconds: float) -> tuple[CheckResult, CheckResult]:
    if probe.import_failures:
        imports = CheckResult(
            "imports", ok=False,
            detail=f"{len(probe.import_failures)} of {len(probe.modules)} modules failed, "
            f"first {probe.import_failures[0]}",
            failures=probe.import_failures, seconds=seconds,
        )
    else:
        imports = CheckResult(
            "imports", ok=True, detail=f"{len(probe.modules)} modules imported", seconds=seconds
        )
    if probe.entry_point_failures:
        entry = CheckResult(
            "entry-points", ok=False,
            detail=f"{len(probe.entry_point_failures)} failed, "
            f"first {probe.entry_point_failures[0]}",
            failures=probe.entry_point_failures,
        )
    else:
        entry = CheckResult(
            "entry-points", ok=True, detail=f"{len(probe.entry_points)} entry points loaded"
        )
    return imports, entry


def _smoke_one(ctx: _Context, python: PythonInfo) -> tuple[PythonReport, Probe | None]:
    with ctx.slots:
        return _smoke_python(ctx, python)


def _smoke_python(ctx: _Context, python: PythonInfo) -> tuple[PythonReport, Probe | None]:
    venv = ctx.envs / python.minor
    done: list[CheckResult] = []
    probe: Probe | None = None

    def record(check: CheckResult) -> bool:
        done.append(check)
        ctx.emit(python.minor, check)
        return check.ok and not check.skipped

    def finish(reason: str) -> tuple[PythonReport, Probe | None]:
        for name in CHECKS[len(done):]:
            record(_skip(name, reason))
        return PythonReport(python, venv, tuple(done)), probe

    if not record(ensure_venv(python, venv)):
        return finish("venv failed")
    extra = ctx.extra if ctx.tests_run is not None else ()
    if not record(install_wheel(venv, ctx.wheel, ctx.config.name, extra, index_url=ctx.index_url)):
        return finish("install failed")
    with tempfile.TemporaryDirectory(prefix=f"smoke-{python.minor}-") as scratch:
        start = time.perf_counter()
        cwd = Path(scratch)
        probe, why = probe_installed(venv, ctx.config.package, ctx.config.name, ctx.deps, cwd)
        if probe is None:
            record(CheckResult("wheel", ok=False, detail=why, seconds=time.perf_counter() - start))
            return finish("probe failed")
        took = time.perf_counter() - start
        ctx.first_probe.set(probe.dep_modules)
        for check in (check_record(probe, ctx.wheel, ctx.record), *_from_probe(probe, took)):
            record(check)
        for check in _run_checks(ctx, venv, cwd):
            record(check)
    return PythonReport(python, venv, tuple(done)), probe


def _run_checks(ctx: _Context, venv: Path, cwd: Path) -> Iterator[CheckResult]:
    """The checks that run the installed code: version, serve, workspace tests."""
    settings = ctx.settings
    if settings.script and settings.version_check:
        yield check_version(venv, settings.script, ctx.config.version, cwd)
    else:
        yield _skip("version", "version-check off")
    if settings.script and settings.serve_check:
        yield check_serve(venv, settings.script, cwd)
    else:
        yield _skip("serve", "serve-check off")
    if ctx.tests_run is not None:
        yield run_workspace_tests(
            venv, ctx.tests_run, cwd, settings.pytest_args, timeout=settings.tests_timeout
        )
    else:
        yield _skip("tests", "no workspace tests configured")


def _deps_when_probed(ctx: _Context, scratch: Path) -> CheckResult:
    # deptry needs the real dependency -> module names (PyYAML -> yaml), which the first probe
    # reads from a smoke venv; it then runs while the Pythons go on with their checks.
    config = ctx.config
    return check_deps(
        ctx.wheel, config.package, config.name, config.dependencies,
        module_map=ctx.first_probe.get(), scratch=scratch,
    )


def run_smoke(
    config: Config,
    dist: Path,
    pythons: Sequence[PythonInfo],
    *,
    settings: SmokeSettings | None = None,
    index_url: str | None = None,
    jobs: int = 2,
    on_check: Callable[[str, CheckResult], None] | None = None,
) -> SmokeReport:
    """Smoke the wheel in ``dist`` on every one of ``pythons``; never raises for a failed check."""
    start = time.perf_counter()
    settings = settings or load_settings(config)
    wheel = find_wheel(dist, config.name)
    if not pythons:
        raise ToolingError("no Python 3.11+ found to smoke on; install one or pass --python PATH")
    lock = threading.Lock()

    def emit(where: str, check: CheckResult) -> None:
        if on_check is not None:
            with lock:
                on_check(where, check)

    data = read_pyproject(config.pyproject)
    with tempfile.TemporaryDirectory(prefix="smoke-") as scratch_name:
        scratch = Path(scratch_name)
        tests_run = prepare_tests(config, scratch) if settings.workspace_tests else None
        extra = tuple(_group(data, settings.test_group, str(config.pyproject))) if tests_run else ()
        ctx = _Context(
            config=config, settings=settings, wheel=wheel, record=wheel_record(wheel),
            extra=extra, deps=requirement_names(config.dependencies), tests_run=tests_run,
            index_url=index_url, envs=config.root / ".nox" / "smoke-envs", emit=emit,
            first_probe=_Once(), slots=threading.Semaphore(max(1, jobs)),
        )
        # One thread per Python (at most `jobs` run at once, see ctx.slots) plus deptry's.
        with ThreadPoolExecutor(max_workers=len(pythons) + 1) as pool:
            deps_future = (
                pool.submit(_deps_when_probed, ctx, scratch) if settings.deps_check else None
            )
            futures = [pool.submit(_smoke_one, ctx, p) for p in pythons]
            results = [f.result() for f in futures]
            ctx.first_probe.set({})  # no Python got as far as the probe: deptry guesses names
            deps = deps_future.result() if deps_future is not None else None
        if deps is not None:
            emit("deps", deps)
    reports = tuple(r for r, _ in results)
    failures = [
        f"[{r.python.minor}] {c.name}: {line}"
        for r in reports for c in r.checks if not c.ok
        for line in (c.failures or (c.detail,))
    ]
    if deps is not None and not deps.ok:
        failures.extend(f"[deps] {line}" for line in (deps.failures or (deps.detail,)))
    return SmokeReport(
        wheel=wheel,
        wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
        pythons=reports,
        deps=deps,
        seconds=time.perf_counter() - start,
        failures=tuple(failures),
    )


def _status(check: CheckResult) -> str:
    return "skip" if check.skipped else ("ok" if check.ok else "FAIL")


def _print_line(where: str, check: CheckResult) -> None:
    print(
        f"[{where}] {check.name:<12} {_status(check):<4} {check.detail} ({check.seconds:.2f}s)",
        flush=True,
    )


def _print_table(report: SmokeReport) -> None:
    header = ["python", *CHECKS]
    rows = [[r.python.version, *(_status(c) for c in r.checks)] for r in report.pythons]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    if report.deps is not None:
        print(f"deps (deptry): {_status(report.deps)}: {report.deps.detail}")
    verdict = "ok" if report.ok else f"FAILED ({len(report.failures)} failure(s))"
    print(f"smoke {verdict}: {report.wheel.name} sha256:{report.wheel_sha256} "
          f"({report.seconds:.1f}s)")


def _as_json(report: SmokeReport) -> dict[str, object]:
    def check(c: CheckResult) -> dict[str, object]:
        return {"name": c.name, "ok": c.ok, "skipped": c.skipped, "detail": c.detail,
                "failures": list(c.failures), "seconds": round(c.seconds, 3)}

    return {
        "ok": report.ok,
        "wheel": str(report.wheel),
        "wheel_sha256": report.wheel_sha256,
        "pythons": [
            {"version": r.python.version, "executable": str(r.python.executable),
             "venv": str(r.venv), "ok": r.ok, "checks": [check(c) for c in r.checks]}
            for r in report.pythons
        ],
        "deps": check(report.deps) if report.deps else None,
        "failures": list(report.failures),
        "seconds": round(report.seconds, 3),
    }


# What `--skip` can switch off for one run.
_SKIPPABLE = ("deps", "serve", "tests", "version")


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.smoke``: smoke the built wheel on every Python 3.11+ found."""
    parser = argparse.ArgumentParser(prog="nox -s smoke --", description=__doc__)
    parser.add_argument(
        "--python", action="append", default=[], metavar="VERSION|PATH",
        help=f"only these Pythons (repeat or comma-separate; also ${PYTHONS_ENV})",
    )
    parser.add_argument("--dist", type=Path, help="where the wheel is (default dist/)")
    parser.add_argument("--index-url", help="package index for the dependencies (default: uv's)")
    parser.add_argument("--jobs", type=int, default=2, help="Pythons smoked at once (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--skip", action="append", default=[], choices=_SKIPPABLE,
        help="switch a check off for this run (repeatable)",
    )
    args = parser.parse_args(argv)

    def work() -> int:
        config = load_config()
        settings = load_settings(config)
        settings = replace(
            settings,
            version_check=settings.version_check and "version" not in args.skip,
            serve_check=settings.serve_check and "serve" not in args.skip,
            workspace_tests=settings.workspace_tests and "tests" not in args.skip,
            deps_check=settings.deps_check and "deps" not in args.skip,
        )
        restrict = parse_restriction(args.python) or parse_restriction(
            [os.environ.get(PYTHONS_ENV, "")]
        ) or settings.pythons
        pythons = find_pythons(restrict)
        if not args.json:
            print(f"smoking on {', '.join(p.version for p in pythons) or 'no Python'}", flush=True)
        report = run_smoke(
            config, (args.dist or config.root / "dist").resolve(), pythons, settings=settings,
            index_url=args.index_url, jobs=args.jobs,
            on_check=None if args.json else _print_line,
        )
        if args.json:
            print(json.dumps(_as_json(report), indent=2))
        else:
            _print_table(report)
            for line in report.failures:
                print(f"error: {line}", file=sys.stderr)
        return 0 if report.ok else 1

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
