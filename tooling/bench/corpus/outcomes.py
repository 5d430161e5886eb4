"""Test outcomes from pytest's JUnit XML, and the test-by-test comparison of two layouts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["Comparison", "Difference", "Known", "Outcome", "compare", "read_junit"]


class Outcome(Enum):
    """What one test did (xfail counts as skipped, as JUnit records it)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


_RANK = {Outcome.PASSED: 0, Outcome.SKIPPED: 1, Outcome.FAILED: 2}


def _outcome(case: ET.Element) -> Outcome:
    tags = {child.tag for child in case}
    if tags & {"failure", "error"}:
        return Outcome.FAILED
    if "skipped" in tags:
        return Outcome.SKIPPED
    return Outcome.PASSED


def read_junit(path: Path) -> dict[str, Outcome]:
    """Test id (``classname::name``) -> outcome; a test reported twice keeps the worse one."""
    try:
        # pytest's own report, written by this run a moment ago: not untrusted input.
        root = ET.parse(path).getroot()  # noqa: S314
    except (OSError, ET.ParseError) as exc:
        raise ToolingError(f"{path}: no readable JUnit report ({exc}); see the pytest output "
                           "above") from exc
    found: dict[str, Outcome] = {}
    for case in root.iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = _outcome(case)
        if test not in found or _RANK[outcome] > _RANK[found[test]]:
            found[test] = outcome
    return found


@dataclass(frozen=True)
class Known:
    """A difference the rewrite cannot avoid, with the reason docs/rewrite.md states."""

    pattern: str
    """Test ids it covers; ``*`` matches any text, everything else is literal."""
    reason: str
    """Why the outcome differs (a limit of the rewrite)."""

    def matches(self, test: str) -> bool:
        """Whether ``test`` is covered."""
        regex = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return re.fullmatch(regex, test) is not None


@dataclass(frozen=True)
class Difference:
    """One test whose outcome is not the same in both layouts."""

    test: str
    """The test id."""
    bare: Outcome | None
    """Its outcome on the bare layout (None: not collected there)."""
    rewritten: Outcome | None
    """Its outcome after the rewrite (None: not collected there)."""
    reason: str | None
    """The known reason, or None for an unexplained difference."""


@dataclass(frozen=True)
class Comparison:
    """Two runs of one project's tests, side by side."""

    bare: Mapping[Outcome, int]
    """Outcome counts on the bare layout."""
    rewritten: Mapping[Outcome, int]
    """Outcome counts after the rewrite."""
    tests: int
    """Distinct test ids in either run."""
    differences: tuple[Difference, ...]
    """Every test whose outcome differs, sorted by id."""
    unused: tuple[Known, ...]
    """Known differences that matched nothing in this run (stale entries)."""

    @property
    def unexplained(self) -> tuple[Difference, ...]:
        """Differences with no known reason: each one fails the corpus."""
        return tuple(d for d in self.differences if d.reason is None)


def compare(
    bare: Mapping[str, Outcome], rewritten: Mapping[str, Outcome], known: Sequence[Known]
) -> Comparison:
    """Compare the two layouts' outcomes test by test against the known differences."""
    differences = []
    used: set[Known] = set()
    for test in sorted(set(bare) | set(rewritten)):
        before, after = bare.get(test), rewritten.get(test)
        if before == after:
            continue
        match = next((k for k in known if k.matches(test)), None)
        if match is not None:
            used.add(match)
        differences.append(Difference(test, before, after, match.reason if match else None))
    return Comparison(
        Counter(bare.values()), Counter(rewritten.values()), len(set(bare) | set(rewritten)),
        tuple(differences), tuple(k for k in known if k not in used),
    )
