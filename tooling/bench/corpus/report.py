"""What a corpus run found: the result of each project, its table, the JSON and the verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from tooling.bench.corpus.outcomes import Comparison, Outcome
from tooling.cli import format_table

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.bench.corpus.projects import Project

__all__ = [
    "ProjectResult", "Speed", "Status", "all_ok", "as_json", "render", "render_speed", "verdict",
]

_SHOWN = 20  # unexplained differences printed per project (all of them are in --json)


class Status(Enum):
    """How one project came out."""

    SAME = "same"
    """Every difference is known."""
    DIFFERENT = "different"
    """At least one unexplained difference."""
    BROKEN = "broken"
    """The corpus could not run it (download, conversion, rewrite or pytest failed)."""
    DEFEATED = "defeated"
    """corpus.toml says the converter cannot make it bare, and why; not run."""


@dataclass(frozen=True)
class Speed:
    """Best-of-N seconds to produce the package from one bare tree."""

    files: int
    """Files in the bare source tree."""
    copy: float
    """A plain copy (the I/O floor)."""
    regex: float
    """Copy plus the regex import rewrite (tooling/bench/rewrite.py's baseline)."""
    rewrite: float
    """``rewrite_tree``, no cache."""


@dataclass(frozen=True)
class ProjectResult:
    """One project's run."""

    project: Project
    """What ran."""
    status: Status
    """How it came out."""
    comparison: Comparison | None
    """The test-by-test comparison (None when the tests did not run)."""
    speed: Speed | None
    """The timings (None when the tree could not be made)."""
    note: str | None
    """Why it is broken or defeated."""


def verdict(results: Sequence[ProjectResult]) -> str:
    """The one-line summary the run ends with."""
    ran = [r for r in results if r.status is not Status.DEFEATED]
    same = sum(1 for r in ran if r.status is Status.SAME)
    tests = sum(r.comparison.tests for r in ran if r.comparison is not None)
    unexplained = sum(len(r.comparison.unexplained) for r in ran if r.comparison is not None)
    line = f"corpus: {same}/{len(ran)} projects, {tests:,} tests, {unexplained} unexplained"
    line += " differences"
    broken = [r.project.name for r in ran if r.status is Status.BROKEN]
    if broken:
        line += f", {len(broken)} could not run ({', '.join(broken)})"
    defeated = [r.project.name for r in results if r.status is Status.DEFEATED]
    if defeated:
        line += f", {len(defeated)} not convertible ({', '.join(defeated)})"
    return line


def _counts(counts: Mapping[Outcome, int]) -> list[str]:
    return [f"{sum(counts.values()):,}", *(f"{counts.get(o, 0):,}" for o in Outcome)]


def _outcome(value: Outcome | None) -> str:
    return value.value if value is not None else "absent"


def render(result: ProjectResult) -> str:
    """The block printed for one project."""
    project = result.project
    head = f"## {project.name} {project.version}"
    if project.shapes:
        head += f" ({', '.join(project.shapes)})"
    lines = [head]
    if result.note is not None:
        lines.append(f"{result.status.value}: {result.note}")
    comparison = result.comparison
    if comparison is not None:
        rows = [["bare", *_counts(comparison.bare)],
                ["rewritten", *_counts(comparison.rewritten)]]
        lines.append(format_table(["layout", "tests", *(o.value for o in Outcome)], rows))
        reasons = Counter(d.reason for d in comparison.differences if d.reason is not None)
        lines.append(f"differences: {len(comparison.differences)} "
                     f"({sum(reasons.values())} known, {len(comparison.unexplained)} "
                     "unexplained)")
        lines.extend(f"  known x{count}: {reason}" for reason, count in reasons.items())
        lines.extend(
            f"  UNEXPLAINED {d.test}: {_outcome(d.bare)} -> {_outcome(d.rewritten)}"
            for d in comparison.unexplained[:_SHOWN]
        )
        if len(comparison.unexplained) > _SHOWN:
            lines.append(f"  ... {len(comparison.unexplained) - _SHOWN} more (see --json)")
        lines.extend(f"  known difference not seen (stale?): {k.pattern}"
                     for k in comparison.unused)
    return "\n".join(lines)


def render_speed(results: Sequence[ProjectResult]) -> str:
    """Rewrite time per project next to a plain copy and the regex rewrite."""
    rows = [
        [r.project.name, str(s.files), f"{s.copy:.3f}s", f"{s.regex:.3f}s", f"{s.rewrite:.3f}s",
         f"{s.rewrite / s.regex:.1f}x", f"{s.rewrite / s.copy:.1f}x"]
        for r in results if (s := r.speed) is not None
    ]
    return format_table(["project", "files", "copy", "regex", "rewrite", "rewrite/regex",
                         "rewrite/copy"], rows)


def as_json(results: Sequence[ProjectResult]) -> dict[str, object]:
    """The whole run, for machines."""
    def project(r: ProjectResult) -> dict[str, object]:
        c, s = r.comparison, r.speed
        return {
            "name": r.project.name, "version": r.project.version, "status": r.status.value,
            "note": r.note,
            "tests": c.tests if c else None,
            "bare": {o.value: c.bare.get(o, 0) for o in Outcome} if c else None,
            "rewritten": {o.value: c.rewritten.get(o, 0) for o in Outcome} if c else None,
            "differences": [
                {"test": d.test, "bare": _outcome(d.bare), "rewritten": _outcome(d.rewritten),
                 "reason": d.reason} for d in c.differences
            ] if c else [],
            "speed": {"files": s.files, "copy": s.copy, "regex": s.regex,
                      "rewrite": s.rewrite} if s else None,
        }

    return {"projects": [project(r) for r in results], "verdict": verdict(results),
            "ok": all_ok(results)}


def all_ok(results: Sequence[ProjectResult]) -> bool:
    """Whether the run passes: every project the same but for known differences, or defeated."""
    return all(r.status in {Status.SAME, Status.DEFEATED} for r in results)
