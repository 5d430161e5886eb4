"""The smoke session's report: per-Python results, the table, the JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tooling.cli import format_table
from tooling.smoke.testrun import verdict_json

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from tooling.smoke.checks import CheckResult
    from tooling.smoke.pythons import PythonInfo

__all__ = ["CHECKS", "PythonReport", "SmokeReport", "print_line", "print_table", "report_json"]

CHECKS = (
    "venv", "install", "wheel", "imports", "entry-points", "stable-imports", "version", "serve",
    "tests",
)
"""The per-Python checks, in the order they run."""


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
    env: Mapping[str, str] = field(default_factory=dict)
    """``[tool.runtime-build.smoke] env`` as set for the runtime, secret-looking values masked."""

    @property
    def cached(self) -> int:
        """How many checks were served from the smoke cache."""
        deps = self.deps is not None and self.deps.cached
        return sum(c.cached for r in self.pythons for c in r.checks) + deps

    @property
    def ok(self) -> bool:
        """Whether everything passed."""
        return all(p.ok for p in self.pythons) and (self.deps is None or self.deps.ok)


def print_line(where: str, check: CheckResult) -> None:
    """One progress line per finished check."""
    print(
        f"[{where}] {check.name:<12} {check.state.value:<4} {check.detail} "
        f"({check.seconds:.2f}s)",
        flush=True,
    )


def print_table(report: SmokeReport) -> None:
    """The Python x check table, the deps line and the verdict."""
    header = ["python", *CHECKS]
    # "cached" in the table: a pass served from the smoke cache, not proved in this run.
    rows = [
        [r.python.version, *(c.state.value for c in r.checks)]
        for r in report.pythons
    ]
    print(format_table(header, rows))
    if report.env:
        shown = " ".join(f"{k}={v}" for k, v in report.env.items())
        print(f"runtime environment (smoke.env): {shown}")
    if report.deps is not None:
        print(f"deps (deptry): {report.deps.state.value}: {report.deps.detail}")
    if report.cached:
        print(f"{report.cached} check(s) served from the smoke cache: their inputs are identical "
              "to an earlier pass (--no-cache re-runs them)")
    verdict = "ok" if report.ok else f"FAILED ({len(report.failures)} failure(s))"
    print(f"smoke {verdict}: {report.wheel.name} sha256:{report.wheel_sha256} "
          f"({report.seconds:.1f}s)")


def report_json(report: SmokeReport) -> dict[str, object]:
    """The report as ``--json`` prints it."""
    def check(c: CheckResult) -> dict[str, object]:
        out: dict[str, object] = {
            "name": c.name, "state": c.state.value, "ok": c.ok, "skipped": c.skipped,
            "cached": c.cached, "detail": c.detail, "failures": list(c.failures),
            "seconds": round(c.seconds, 3),
        }
        if c.tests is not None:
            out["tests"] = verdict_json(c.tests)
        return out

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
        "env": dict(report.env),
        "cached": report.cached,
        "seconds": round(report.seconds, 3),
    }
