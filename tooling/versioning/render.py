"""The version plan as ``invoke release --dry-run [--json]`` prints it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tooling.versioning.decision import SKIP_LABEL, before_one

if TYPE_CHECKING:
    from tooling.versioning.decision import VersionPlan
    from tooling.versioning.history import Commit

__all__ = ["describe_plan", "plan_to_json"]


def _commit_line(commit: Commit, plan: VersionPlan) -> str:
    notes = []
    if commit.skip:
        labelled = any(commit.sha in x.commits and x.label == SKIP_LABEL for x in plan.labels)
        notes.append(f"skipped: {SKIP_LABEL if labelled else '[skip-release]'}")
    elif commit.bump == "major" and plan.current and before_one(plan.current):
        if not plan.major_on_zero:
            notes.append("breaking: counts as minor before 1.0.0")
    elif commit.bump is None:
        notes.append("releases nothing on its own")
    tail = f"   ({'; '.join(notes)})" if notes else ""
    return f"  {commit.short}  {commit.bump or '-':<5}  {commit.subject}{tail}"


def describe_plan(plan: VersionPlan) -> str:
    """Render the plan as the human reads it in ``invoke release --dry-run``."""
    lines = [f"current version: {plan.current}"]
    lines.extend(plan.notes)
    counted = "that change the runtime" if plan.scoped else "(all paths)"
    lines.append(
        f"commits since {plan.since or 'the first commit'} {counted}: {len(plan.commits)}"
    )
    lines.extend(_commit_line(c, plan) for c in plan.commits)
    if plan.scoped:
        lines.append(f"skipped as outside the runtime: {len(plan.outside)} commit(s)"
                     " (--all-paths counts them)")
    lines.extend(f"label: {x.label} on #{x.pull} {x.url}".rstrip() for x in plan.labels)
    lines.append(f"commits ask for: {plan.commit_bump or 'no release'}")
    if plan.override:
        lines.append(f"override: {plan.override} (from {plan.override_source})")
    if plan.prerelease:
        lines.append(f"pre-release: {plan.prerelease}")
    if plan.api_floor is None:
        lines.append("API floor: not computed")
    else:
        count = len(plan.api_breaking)
        lines.append(f"API floor: {plan.api_floor} ({count} breaking change(s))")
        lines.extend(f"  - {change}" for change in plan.api_breaking)
    if not plan.release:
        lines.append(plan.reason)
        return "\n".join(lines)
    lines.append(f"next version: {plan.next} ({plan.bump} release)")
    lines.append(f"tag: {plan.tag}")
    lines.append(f"files that would change: {', '.join(plan.files)}")
    return "\n".join(lines)


def plan_to_json(plan: VersionPlan) -> dict[str, object]:
    """Return the plan as ``invoke release --dry-run --json`` prints it."""
    return {
        "release": plan.release,
        "current": plan.current,
        "next": plan.next,
        "bump": plan.bump,
        "commit_bump": plan.commit_bump,
        "override": plan.override,
        "override_source": plan.override_source,
        "prerelease": plan.prerelease,
        "api_floor": plan.api_floor,
        "api_breaking": list(plan.api_breaking),
        "major_on_zero": plan.major_on_zero,
        "tag": plan.tag,
        "since": plan.since,
        "files": list(plan.files),
        "reason": plan.reason,
        "notes": list(plan.notes),
        "scoped": plan.scoped,
        "skipped_outside": len(plan.outside),
        "outside": [{"sha": c.sha, "short": c.short, "subject": c.subject}
                    for c in plan.outside],
        "labels": [
            {"label": x.label, "pull": x.pull, "url": x.url, "commits": list(x.commits)}
            for x in plan.labels
        ],
        "commits": [
            {
                "sha": c.sha,
                "short": c.short,
                "subject": c.subject,
                "type": c.type,
                "scope": c.scope,
                "breaking": c.breaking,
                "breaking_notes": list(c.breaking_notes),
                "skip": c.skip,
                "bump": c.bump,
            }
            for c in plan.commits
        ],
    }
