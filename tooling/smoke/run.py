"""``nox -s smoke``: prove the built wheel works, in a fresh venv per Python 3.11+ found.

Per Python, in ``.nox/smoke-envs/<X.Y>``: install exactly ``dist/<wheel>`` (reinstalled every
run, so a rebuilt wheel at an unchanged version is the one smoked) with its declared
dependencies from the index; then, from a temp directory outside the repository with
``python -I``: prove the installed files are the wheel's, import every module (all failures
listed), load every entry point, run ``<script> --version``, start the runtime with the echo
adapter and talk A2A to it, and run the workspace's own tests, rewritten, against the wheel.
Once: deptry on the shipped package against ``[project] dependencies``.

A pass is cached per Python for identical inputs (``tooling/smoke/cache.py``): after the
install and the installed-files check, which always run, the other checks report
``passed (cached: ...)``.  ``--no-cache`` proves everything again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config, read_pyproject
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.smoke.cache import (
    cache_dir,
    load_entry,
    load_pass,
    python_key,
    store_entry,
    store_pass,
    tree_digest,
)
from tooling.smoke.checks import (
    CheckResult,
    Probe,
    check_installed,
    check_record,
    check_version,
    clean_env,
    elapsed,
    ensure_venv,
    find_uv,
    install_wheel,
    probe_installed,
    site_packages,
    venv_python,
    wheel_record,
)
from tooling.smoke.deps import (
    check_deps,
    excluded_sources,
    optional_dependencies,
    requirement_names,
)
from tooling.smoke.layout import PreparedTests, arrange, prepare_tests, pytest_argv, source_argv
from tooling.smoke.pythons import PYTHONS_ENV, PythonInfo, find_pythons, parse_restriction
from tooling.smoke.report import (
    CHECKS,
    PythonReport,
    SmokeReport,
    print_line,
    print_table,
    report_json,
)
from tooling.smoke.serve import check_serve
from tooling.smoke.settings import (
    SmokeSettings,
    dependency_group,
    find_wheel,
    load_settings,
    masked_env,
)
from tooling.smoke.stable import check_stable_imports
from tooling.smoke.testrun import TestRun, compare_runs, run_from_json, run_pytest, run_to_json
from tooling.summary import append_section, table_section

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from tooling.config import Config
    from tooling.smoke.cache import CachedPass

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


class _SourceRun:
    """The workspace tests on the source layout, run once (by the first Python that asks).

    Cached by the content of the source and test trees, the interpreter and the settings.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: TestRun | None = None

    def get(self, ctx: _Context, python: PythonInfo, venv: Path, scratch: Path) -> TestRun:
        with self._lock:
            if self._done is None:
                self._done = _run_source(ctx, python, venv, scratch)
            return self._done


def _source_key(ctx: _Context, python: PythonInfo) -> str:
    prepared = ctx.tests_run
    config_file = prepared.config.file if prepared is not None else None
    material = [
        "source-tests", tree_digest(ctx.config.source),
        tree_digest(ctx.config.tests) if ctx.config.tests is not None else "",
        sha256_of(config_file) if config_file is not None else "",
        python.version, list(ctx.settings.pytest_args), sorted(ctx.settings.env.items()),
        list(ctx.extra), list(ctx.config.dependencies),
    ]
    return "source-" + hashlib.sha256(json.dumps(material).encode()).hexdigest()


def _run_source(ctx: _Context, python: PythonInfo, venv: Path, scratch: Path) -> TestRun:
    prepared = ctx.tests_run
    if prepared is None:
        return TestRun("source", (), 0, "no workspace tests")
    key = _source_key(ctx, python)
    if ctx.use_cache:
        hit = load_entry(ctx.cache, key)
        if hit is not None:
            return run_from_json(hit)
    scratch.mkdir(parents=True, exist_ok=True)
    argv, cwd = source_argv(prepared, venv_python(venv), scratch, ctx.settings.pytest_args)
    done = run_pytest(
        argv, layout="source", cwd=cwd, env=clean_env(ctx.settings.env),
        junit=scratch / "junit-source.xml", timeout=ctx.settings.tests_timeout,
    )
    if not done.problem:
        store_entry(ctx.cache, key, run_to_json(done))
    return done


@dataclass(frozen=True)
class _Context:
    config: Config
    settings: SmokeSettings
    wheel: Path
    wheel_sha256: str
    record: Mapping[str, str]
    extra: tuple[str, ...]
    deps: tuple[str, ...]
    tests_run: PreparedTests | None
    source_run: _SourceRun
    index_url: str | None
    envs: Path
    cache: Path
    use_cache: bool
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
    # Always, cache or not: the installed files are exactly the wheel's (hashed on disk).
    site = site_packages(venv, python.minor)
    installed = check_installed(site, ctx.wheel, ctx.record)
    if not installed.ok:
        record(installed)
        return finish("installed files differ from the wheel")
    key, hit = _lookup(ctx, python, site)
    if hit is not None:
        ctx.first_probe.set(hit.dep_modules)
        for check in (installed, *hit.results(CHECKS[3:])):
            record(check)
        return PythonReport(python, venv, tuple(done)), None
    probe = _prove(ctx, python, venv, installed, record)
    if probe is None:
        return finish("probe failed")
    store_pass(ctx.cache, key, done, probe.dep_modules, covers=CHECKS[3:])
    return PythonReport(python, venv, tuple(done)), probe


def _lookup(ctx: _Context, python: PythonInfo, site: Path) -> tuple[str, CachedPass | None]:
    """The cache key of one Python, and the pass stored under it (None: miss, --no-cache)."""
    key = python_key(
        config=ctx.config, settings=ctx.settings, python=python, wheel_sha256=ctx.wheel_sha256,
        site=site, tests_digest=_tests_digest(ctx),
    )
    return key, load_pass(ctx.cache, key, CHECKS[3:]) if ctx.use_cache else None


def _tests_digest(ctx: _Context) -> str:
    prepared = ctx.tests_run
    if prepared is None:
        return ""
    parts = [tree_digest(prepared.mirror)]
    if prepared.config.file is not None:
        parts.append(sha256_of(prepared.config.file))
    if ctx.settings.source_tests:
        parts.append(tree_digest(ctx.config.source))
    return ":".join(parts)


def _prove(
    ctx: _Context,
    python: PythonInfo,
    venv: Path,
    installed: CheckResult,
    record: Callable[[CheckResult], bool],
) -> Probe | None:
    """Run every check on the installed wheel for real; None if the probe itself failed."""
    with tempfile.TemporaryDirectory(prefix=f"smoke-{python.minor}-") as scratch:
        start = time.perf_counter()
        cwd = Path(scratch)
        probe, why = probe_installed(
            venv, ctx.config.package, ctx.config.name, ctx.deps, cwd=cwd, env=ctx.settings.env
        )
        if probe is None:
            record(CheckResult("wheel", ok=False, detail=why, seconds=time.perf_counter() - start))
            return None
        took = time.perf_counter() - start
        ctx.first_probe.set(probe.dep_modules)
        located = check_record(probe, ctx.wheel, ctx.record)  # + imported from site-packages
        for check in (located if not located.ok else installed, *_from_probe(probe, took)):
            record(check)
        for check in _run_checks(ctx, python, venv, cwd):
            record(check)
    return probe


def _tests_check(ctx: _Context, python: PythonInfo, venv: Path, cwd: Path) -> CheckResult:
    """The workspace tests against the wheel, compared test by test with the source layout."""
    start = time.perf_counter()
    prepared = ctx.tests_run
    if prepared is None:  # pragma: no cover - the caller checked
        return _skip("tests", "no workspace tests configured")
    folder = arrange(prepared, site_packages(venv, python.minor) / ctx.config.package, cwd)
    argv = pytest_argv(
        venv_python(venv), isolated=True, ini=folder.ini, rootdir=folder.rootdir,
        tests=folder.tests, config=prepared.config, extra=ctx.settings.pytest_args,
        confcutdir=folder.root,
    )
    wheel = run_pytest(
        argv, layout="wheel", cwd=folder.package, env=clean_env(ctx.settings.env),
        junit=cwd / "junit-wheel.xml", timeout=ctx.settings.tests_timeout,
    )
    source = (
        ctx.source_run.get(ctx, python, venv, cwd / "source-run")
        if ctx.settings.source_tests else None
    )
    verdict = compare_runs(wheel, source, must_pass=ctx.settings.tests_must_pass)
    return CheckResult(
        "tests", ok=verdict.ok, detail=verdict.detail, failures=verdict.failures,
        seconds=elapsed(start), tests=verdict,
    )


def _run_checks(
    ctx: _Context, python: PythonInfo, venv: Path, cwd: Path
) -> Iterator[CheckResult]:
    """The checks that run the installed code: stable imports, version, serve, tests."""
    settings = ctx.settings
    yield check_stable_imports(venv, ctx.config.stable_import_entries(), cwd, settings.env)
    if settings.script and settings.version_check:
        yield check_version(venv, settings.script, ctx.config.version, cwd, settings.env)
    else:
        yield _skip("version", "version-check off")
    if settings.script and settings.serve_check:
        yield check_serve(venv, settings.script, cwd, env=settings.env)
    else:
        yield _skip("serve", "serve-check off")
    if ctx.tests_run is not None:
        yield _tests_check(ctx, python, venv, cwd)
    else:
        yield _skip("tests", "no workspace tests configured")


def _deps_when_probed(ctx: _Context, scratch: Path) -> CheckResult:
    # deptry needs the real dependency -> module names (PyYAML -> yaml), which the first probe
    # reads from a smoke venv; it then runs while the Pythons go on with their checks.
    config = ctx.config
    return check_deps(
        ctx.wheel, config.package, config.name, config.dependencies,
        module_map=ctx.first_probe.get(), scratch=scratch,
        cache_dir=ctx.cache if ctx.use_cache else None,
        optional=optional_dependencies(config.project),
        optional_imports=ctx.settings.optional_imports,
        excluded_sources=excluded_sources(config),
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
    use_cache: bool = True,
) -> SmokeReport:
    """Smoke the wheel in ``dist`` on every one of ``pythons``; never raises for a failed check.

    With ``use_cache``, a Python whose inputs match an earlier pass reports that pass (see
    ``tooling/smoke/cache.py``); without, everything runs (and a pass is stored either way).
    """
    start = time.perf_counter()
    settings = settings or load_settings(config)
    wheel = find_wheel(dist, config.name)
    wheel_sha256 = sha256_of(wheel)
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
        extra = (
            tuple(dependency_group(data, settings.test_group, str(config.pyproject)))
            if tests_run else ()
        )
        ctx = _Context(
            config=config, settings=settings, wheel=wheel, wheel_sha256=wheel_sha256,
            record=wheel_record(wheel), extra=extra, deps=requirement_names(config.dependencies),
            tests_run=tests_run, source_run=_SourceRun(), index_url=index_url,
            envs=config.root / ".nox" / "smoke-envs",
            cache=cache_dir(config), use_cache=use_cache, emit=emit, first_probe=_Once(),
            slots=threading.Semaphore(max(1, jobs)),
        )
        find_uv()  # before the threads: it reads sysconfig, not thread-safe to initialise
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
        wheel_sha256=wheel_sha256,
        pythons=reports,
        deps=deps,
        seconds=time.perf_counter() - start,
        failures=tuple(failures),
        env=masked_env(settings.env),
    )


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
        "--no-cache", action="store_true",
        help="prove every check again, even for inputs identical to an earlier pass",
    )
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
            on_check=None if args.json else print_line, use_cache=not args.no_cache,
        )
        if args.json:
            print(json.dumps(report_json(report), indent=2))
        else:
            print_table(report)
            for line in report.failures:
                print(f"error: {line}", file=sys.stderr)
        marks = [[r.python.version, *("cached" if c.cached else "skip" if c.skipped else
                                       "ok" if c.ok else "FAIL" for c in r.checks)]
                 for r in report.pythons]  # the CI job summary, if any: the same table
        verdict = "ok" if report.ok else f"FAILED: {'; '.join(report.failures)[:500]}"
        append_section(table_section(f"smoke {report.wheel.name}", ["python", *CHECKS], marks,
                                     verdict))
        return 0 if report.ok else 1

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
