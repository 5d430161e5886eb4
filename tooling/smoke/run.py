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

The per-Python check sequence lives in ``tooling/smoke/sequence.py``; this module runs it on
every Python at once and reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config, read_pyproject
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.smoke.cache import cache_dir
from tooling.smoke.checks import CheckResult, find_uv, wheel_record
from tooling.smoke.deps import requirement_names
from tooling.smoke.layout import prepare_tests
from tooling.smoke.pythons import PYTHONS_ENV, PythonInfo, find_pythons, parse_restriction
from tooling.smoke.report import (
    CHECKS,
    SmokeReport,
    print_line,
    print_table,
    report_json,
)
from tooling.smoke.sequence import Context, Once, SourceRun, deps_when_probed, smoke_one
from tooling.smoke.settings import (
    SmokeSettings,
    dependency_group,
    find_wheel,
    load_settings,
    masked_env,
)
from tooling.summary import append_section, table_section

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tooling.config import Config

__all__ = ["main", "run_smoke"]


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
        ctx = Context(
            config=config, settings=settings, wheel=wheel, wheel_sha256=wheel_sha256,
            record=wheel_record(wheel), extra=extra, deps=requirement_names(config.dependencies),
            tests_run=tests_run, source_run=SourceRun(), index_url=index_url,
            envs=config.root / ".nox" / "smoke-envs",
            cache=cache_dir(config), use_cache=use_cache, emit=emit, first_probe=Once(),
            slots=threading.Semaphore(max(1, jobs)),
        )
        find_uv()  # before the threads: it reads sysconfig, not thread-safe to initialise
        # One thread per Python (at most `jobs` run at once, see ctx.slots) plus deptry's.
        with ThreadPoolExecutor(max_workers=len(pythons) + 1) as pool:
            deps_future = (
                pool.submit(deps_when_probed, ctx, scratch) if settings.deps_check else None
            )
            futures = [pool.submit(smoke_one, ctx, p) for p in pythons]
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
