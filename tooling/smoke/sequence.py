"""The checks one Python runs on the installed wheel, in order, and the shared state they use.

Per Python: make the venv, install the wheel, prove the installed files are the wheel's, then
either report a cached pass (``tooling/smoke/cache.py``) or probe the imports and entry points
and run the stable imports, ``--version``, serve and workspace-test checks.  The workspace
tests on the source layout run once for every Python (``SourceRun``); deptry waits for the
first probe's dependency-to-module map (``Once``).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.files import sha256_of
from tooling.smoke.cache import (
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
    install_wheel,
    probe_installed,
    site_packages,
    venv_python,
)
from tooling.smoke.deps import check_deps, excluded_sources, optional_dependencies
from tooling.smoke.layout import PreparedTests, arrange, pytest_argv, source_argv
from tooling.smoke.report import CHECKS, PythonReport
from tooling.smoke.serve import check_serve
from tooling.smoke.stable import check_stable_imports
from tooling.smoke.testrun import TestRun, compare_runs, run_from_json, run_pytest, run_to_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from tooling.config import Config
    from tooling.smoke.cache import CachedPass
    from tooling.smoke.pythons import PythonInfo
    from tooling.smoke.settings import SmokeSettings

__all__ = ["Context", "Once", "SourceRun", "deps_when_probed", "smoke_one"]


class Once:
    """The first probe's dependency-to-module map, handed to deptry as soon as it exists."""

    def __init__(self) -> None:
        """Nothing set yet: `get` waits."""
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._value: Mapping[str, tuple[str, ...]] = {}

    def set(self, value: Mapping[str, tuple[str, ...]]) -> None:
        """Hand over the map; only the first call counts."""
        with self._lock:
            if not self._event.is_set():
                self._value = value
                self._event.set()

    def get(self) -> Mapping[str, tuple[str, ...]]:
        """The map, once set (waits until then)."""
        self._event.wait()
        return self._value


class SourceRun:
    """The workspace tests on the source layout, run once (by the first Python that asks).

    Cached by the content of the source and test trees, the interpreter and the settings.
    """

    def __init__(self) -> None:
        """Not run yet."""
        self._lock = threading.Lock()
        self._done: TestRun | None = None

    def get(self, ctx: Context, python: PythonInfo, venv: Path, scratch: Path) -> TestRun:
        """The source-layout run, made (or read from the cache) by the first caller."""
        with self._lock:
            if self._done is None:
                self._done = _run_source(ctx, python, venv, scratch)
            return self._done


def _source_key(ctx: Context, python: PythonInfo) -> str:
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


def _run_source(ctx: Context, python: PythonInfo, venv: Path, scratch: Path) -> TestRun:
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
class Context:
    """What every Python's checks share during one smoke run."""

    config: Config
    """The project's configuration."""
    settings: SmokeSettings
    """The smoke settings, after `--skip`."""
    wheel: Path
    """The wheel under test."""
    wheel_sha256: str
    """Its SHA-256 (part of every cache key)."""
    record: Mapping[str, str]
    """The wheel's RECORD: installed path -> hash."""
    extra: tuple[str, ...]
    """The test dependency group, installed beside the wheel when workspace tests run."""
    deps: tuple[str, ...]
    """The names of the runtime's declared dependencies."""
    tests_run: PreparedTests | None
    """The rewritten workspace tests (None: none run)."""
    source_run: SourceRun
    """The one run of the workspace tests on the source layout."""
    index_url: str | None
    """The package index for the dependencies (None: uv's)."""
    envs: Path
    """Where the per-Python venvs live."""
    cache: Path
    """The smoke cache directory."""
    use_cache: bool
    """Whether a cached pass may stand in for the checks (`--no-cache` turns it off)."""
    emit: Callable[[str, CheckResult], None]
    """Called with each check as it finishes."""
    first_probe: Once
    """The first probe's dependency-to-module map, for deptry."""
    slots: threading.Semaphore
    """At most `jobs` Pythons smoke at once."""

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


def smoke_one(ctx: Context, python: PythonInfo) -> tuple[PythonReport, Probe | None]:
    """Smoke the wheel on one Python once a slot is free; the probe is None if cached."""
    with ctx.slots:
        return _smoke_python(ctx, python)


def _smoke_python(ctx: Context, python: PythonInfo) -> tuple[PythonReport, Probe | None]:
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


def _lookup(ctx: Context, python: PythonInfo, site: Path) -> tuple[str, CachedPass | None]:
    """The cache key of one Python, and the pass stored under it (None: miss, --no-cache)."""
    key = python_key(
        config=ctx.config, settings=ctx.settings, python=python, wheel_sha256=ctx.wheel_sha256,
        site=site, tests_digest=_tests_digest(ctx),
    )
    return key, load_pass(ctx.cache, key, CHECKS[3:]) if ctx.use_cache else None


def _tests_digest(ctx: Context) -> str:
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
    ctx: Context,
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


def _tests_check(ctx: Context, python: PythonInfo, venv: Path, cwd: Path) -> CheckResult:
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
    ctx: Context, python: PythonInfo, venv: Path, cwd: Path
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


def deps_when_probed(ctx: Context, scratch: Path) -> CheckResult:
    """Run deptry on the wheel once the first probe has read the module names."""
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

