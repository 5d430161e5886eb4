"""The workspace tests, run against the wheel and on the source layout, compared test by test.

Outcomes are read from a JUnit XML report, never from the terminal summary.  The verdict
(docs/build.md "Workspace tests"): a test that passes on the source layout and not against
the wheel is a packaging defect and always fails the smoke; a test failing in both layouts is
the runtime's own, and fails the smoke only with ``tests-must-pass = true``.
"""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from tooling.proc import run
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = [
    "Outcome",
    "TestCase",
    "TestRun",
    "TestVerdict",
    "compare_runs",
    "merge_args",
    "parse_junit",
    "run_from_json",
    "run_pytest",
    "run_to_json",
    "verdict_json",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_QUIET = re.compile(r"^-q+$|^--quiet$")
_TAIL = 3


class Outcome(Enum):
    """What became of one test (or one module pytest could not collect)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "errors"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    NOT_COLLECTED = "not-collected"


@dataclass(frozen=True)
class TestCase:
    """One test's outcome in one run."""

    __test__ = False  # not a pytest test class

    test_id: str
    """``dotted.module.Class::name`` as the JUnit report names it (identical across layouts)."""
    outcome: Outcome
    """Its outcome."""
    first_line: str = ""
    """The first line of its failure, error or skip message."""


@dataclass(frozen=True)
class TestRun:
    """One pytest run of the workspace tests."""

    __test__ = False

    layout: str
    """``wheel`` (rewritten tests against the installed wheel) or ``source``."""
    cases: tuple[TestCase, ...]
    """Every test case of the JUnit report, in report order."""
    exit_code: int
    """pytest's exit code."""
    problem: str = ""
    """Why there is no report (pytest could not start, or crashed); empty when there is one."""
    seconds: float = 0.0
    """Wall time."""

    def count(self, outcome: Outcome) -> int:
        """How many cases had ``outcome``."""
        return sum(c.outcome is outcome for c in self.cases)

    @property
    def counts(self) -> dict[str, int]:
        """Outcome name to count, every outcome present (zeros included)."""
        return {o.value: self.count(o) for o in Outcome}

    @property
    def summary(self) -> str:
        """``3 passed, 1 failed`` (only the non-zero counts), or the problem."""
        if self.problem:
            return self.problem
        parts = [f"{n} {name}" for name, n in self.counts.items() if n]
        return ", ".join(parts) or "no tests"


@dataclass(frozen=True)
class TestVerdict:
    """Both runs, their differences and the verdict."""

    __test__ = False

    wheel: TestRun
    """The run against the installed wheel."""
    source: TestRun | None
    """The run on the source layout (None when switched off or not comparable)."""
    regressions: tuple[TestCase, ...]
    """Tests passing on the source layout and not against the wheel (the wheel's outcome)."""
    own_failures: tuple[TestCase, ...]
    """Tests failing in both layouts: the runtime's own (the wheel's outcome)."""
    must_pass: bool
    """``tests-must-pass``: whether own failures fail the smoke."""

    @property
    def ok(self) -> bool:
        """The verdict."""
        if self.wheel.problem:
            return False
        if self.source is None or self.source.problem:
            bad = (Outcome.FAILED, Outcome.ERROR, Outcome.NOT_COLLECTED)
            return not any(c.outcome in bad for c in self.wheel.cases)
        return not self.regressions and not (self.must_pass and self.own_failures)

    @property
    def failures(self) -> tuple[str, ...]:
        """One line per test that fails the verdict, naming it and its first error line."""
        lines = [f"{c.test_id}: passes on the source layout, {c.outcome.value} against the "
                 f"wheel: {c.first_line}" for c in self.regressions]
        if self.must_pass:
            lines.extend(f"{c.test_id}: {c.outcome.value} in both layouts: {c.first_line}"
                         for c in self.own_failures)
        if self.wheel.problem:
            lines.append(self.wheel.problem)
        elif self.source is None or self.source.problem:
            bad = (Outcome.FAILED, Outcome.ERROR, Outcome.NOT_COLLECTED)
            lines.extend(f"{c.test_id}: {c.outcome.value}: {c.first_line}"
                         for c in self.wheel.cases if c.outcome in bad)
        return tuple(lines)

    @property
    def detail(self) -> str:
        """One line: both runs' counts and what the comparison found."""
        text = f"wheel: {self.wheel.summary}"
        if self.source is not None:
            text += f"; source: {self.source.summary}"
            if not self.source.problem:
                text += (f"; {len(self.regressions)} only failing against the wheel, "
                         f"{len(self.own_failures)} failing in both")
                if self.own_failures and not self.must_pass:
                    text += " (the runtime's own; tests-must-pass = false)"
        return text


def _first_line(element: ET.Element) -> str:
    text = element.get("message") or element.text or ""
    for line in _ANSI.sub("", text).splitlines():
        if line.strip():
            return redact(line.strip())[:300]
    return ""


def _outcome(case: ET.Element) -> tuple[Outcome, str]:
    worst: tuple[Outcome, str] = (Outcome.PASSED, "")
    for child in case:
        if child.tag == "error":
            message = child.get("message") or ""
            kind = Outcome.NOT_COLLECTED if "collection failure" in message else Outcome.ERROR
            if worst[0] in {Outcome.PASSED, Outcome.SKIPPED, Outcome.XFAILED}:
                worst = (kind, _first_line(child) if kind is Outcome.ERROR else
                         _error_text(child))
        elif child.tag == "failure" and worst[0] is not Outcome.NOT_COLLECTED:
            worst = (Outcome.FAILED, _first_line(child))
        elif child.tag == "skipped" and worst[0] is Outcome.PASSED:
            kind = Outcome.XFAILED if child.get("type") == "pytest.xfail" else Outcome.SKIPPED
            worst = (kind, _first_line(child))
    return worst


def _error_text(element: ET.Element) -> str:
    # A collection error's message is just "collection failure": its cause is in the text.
    lines = [ln.strip() for ln in _ANSI.sub("", element.text or "").splitlines() if ln.strip()]
    cause = next((ln for ln in reversed(lines) if ln.startswith("E ")), lines[-1] if lines else "")
    return redact(cause.removeprefix("E").strip())[:300]


def parse_junit(path: Path) -> tuple[TestCase, ...]:
    """The test cases of a pytest JUnit XML report."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest run wrote this file
    cases = []
    for case in root.iter("testcase"):
        name, classname = case.get("name", ""), case.get("classname", "")
        outcome, line = _outcome(case)
        test_id = f"{classname}::{name}" if classname else name
        cases.append(TestCase(test_id, outcome, line))
    return tuple(cases)


def merge_args(addopts: Sequence[str], extra: Sequence[str]) -> tuple[str, ...]:
    """``extra`` after ``addopts``, minus quiet flags ``addopts`` already has (never ``-qq``)."""
    if any(_QUIET.match(a) for a in addopts):
        return tuple(a for a in extra if not _QUIET.match(a))
    return tuple(extra)


def run_pytest(
    argv: Sequence[str],
    *,
    layout: str,
    cwd: Path,
    env: Mapping[str, str],
    junit: Path,
    timeout: float,
) -> TestRun:
    """Run ``argv`` (a pytest command line) with a JUnit report at ``junit``; read it."""
    start = time.perf_counter()
    done = run([*argv, f"--junitxml={junit}", "-o", "junit_family=xunit2"], cwd=cwd,
               check=False, env=dict(env), timeout=timeout, what=f"pytest ({layout} layout)")
    seconds = time.perf_counter() - start
    if not junit.is_file():
        lines = [ln.strip() for ln in _ANSI.sub("", redact(done.stdout + "\n" + done.stderr))
                 .splitlines() if ln.strip()]
        tail = " | ".join(lines[-_TAIL:]) or "no output"
        problem = f"pytest exit {done.returncode} on the {layout} layout, no report: {tail}"
        return TestRun(layout, (), done.returncode, problem, seconds)
    try:
        cases = parse_junit(junit)
    except ET.ParseError as exc:
        problem = f"pytest's JUnit report {os.fspath(junit)} is not XML: {exc}"
        return TestRun(layout, (), done.returncode, problem, seconds)
    return TestRun(layout, cases, done.returncode, "", seconds)


def _module_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def compare_runs(wheel: TestRun, source: TestRun | None, *, must_pass: bool) -> TestVerdict:
    """Compare outcomes test by test (pure)."""
    if source is None or source.problem:
        return TestVerdict(wheel, source, (), (), must_pass)
    on_wheel = {c.test_id: c for c in wheel.cases}
    uncollected = {c.test_id.rsplit("::", 1)[-1]: c for c in wheel.cases
                   if c.outcome is Outcome.NOT_COLLECTED}
    regressions: list[TestCase] = []
    own: list[TestCase] = []
    bad = (Outcome.FAILED, Outcome.ERROR, Outcome.NOT_COLLECTED)
    for case in source.cases:
        mine = on_wheel.get(case.test_id)
        if mine is None:
            module = _module_of(case.test_id)
            cause = next((c.first_line for key, c in uncollected.items()
                          if module.endswith(key) or key.endswith(module)), "not collected")
            mine = TestCase(case.test_id, Outcome.NOT_COLLECTED, cause)
        if case.outcome is Outcome.PASSED and mine.outcome is not Outcome.PASSED:
            regressions.append(mine)
        elif case.outcome in bad and mine.outcome in bad:
            own.append(mine)
    return TestVerdict(wheel, source, tuple(regressions), tuple(own), must_pass)


def run_to_json(done: TestRun) -> dict[str, object]:
    """A run as JSON (``--json`` and the source-run cache)."""
    return {
        "layout": done.layout,
        "exit_code": done.exit_code,
        "problem": done.problem,
        "counts": done.counts,
        "cases": [[c.test_id, c.outcome.value, c.first_line] for c in done.cases],
    }


def run_from_json(data: Mapping[str, object]) -> TestRun:
    """The inverse of `run_to_json`."""
    raw = data.get("cases", [])
    cases = tuple(
        TestCase(str(c[0]), Outcome(c[1]), str(c[2]))
        for c in (raw if isinstance(raw, list) else [])
    )
    code = data.get("exit_code", 0)
    return TestRun(str(data.get("layout", "source")), cases, code if isinstance(code, int) else 0,
                   str(data.get("problem", "")))


def verdict_json(verdict: TestVerdict) -> dict[str, object]:
    """Both runs' counts and the per-test differences, as ``--json`` prints them."""
    def cases(found: Sequence[TestCase]) -> list[dict[str, str]]:
        return [{"test": c.test_id, "wheel": c.outcome.value, "first_line": c.first_line}
                for c in found]

    return {
        "ok": verdict.ok,
        "tests_must_pass": verdict.must_pass,
        "wheel": {"counts": verdict.wheel.counts, "problem": verdict.wheel.problem},
        "source": (
            {"counts": verdict.source.counts, "problem": verdict.source.problem}
            if verdict.source is not None else None
        ),
        "only_failing_against_wheel": cases(verdict.regressions),
        "failing_in_both": cases(verdict.own_failures),
    }
