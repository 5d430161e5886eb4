"""The version decision: the next version and its tag, from the current version and the commits.

Pure: ``plan_version`` takes strings and Commits and returns a VersionPlan; reading the
repository is ``tooling.versioning.plan``'s job, printing it ``tooling.versioning.render``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from tooling.errors import ToolingError
from tooling.version import (
    Bump,
    bump_rank,
    bump_version,
    higher_bump,
    parse_bump,
    parse_prerelease,
    parse_version,
    release_level,
    validate_version,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.versioning.history import Commit

__all__ = [
    "DEFAULT_FILES",
    "LABEL_BUMPS",
    "SKIP_LABEL",
    "BelowApiFloorError",
    "OverrideTooLowError",
    "PullLabel",
    "VersionPlan",
    "before_one",
    "plan_version",
]

DEFAULT_FILES: tuple[str, ...] = ("pyproject.toml", "CHANGELOG.md")
"""What a release changes in this repository: the version and the changelog."""
_MAX_LISTED = 8


LABEL_BUMPS: dict[str, Bump] = {
    "release:major": "major", "release:minor": "minor", "release:patch": "patch",
}
"""Pull-request labels that raise the bump (never lower it), and the bump each asks for."""
SKIP_LABEL = "release:skip"
"""The pull-request label whose commits release nothing (as if each said ``[skip-release]``)."""


@dataclass(frozen=True)
class PullLabel:
    """A release label on a merged pull request that brought some of the commits in."""

    label: str
    """The label: ``release:major``, ``release:minor``, ``release:patch`` or ``release:skip``."""
    pull: int
    """The pull request's number."""
    url: str
    """The pull request's web address, empty when unknown."""
    commits: tuple[str, ...]
    """The full hashes of the planned commits that pull request brought in."""


class OverrideTooLowError(ToolingError):
    """``--bump``/``RELEASE_BUMP`` asked for less than the commits do."""


class BelowApiFloorError(ToolingError):
    """The release would be lower than the public API diff requires."""


@dataclass(frozen=True)
class VersionPlan:
    """What a release would do to the version, decided before anything is changed."""

    current: str
    """The version now (``[project] version``)."""
    next: str | None
    """The version the release would make; None when there is nothing to release."""
    bump: Bump | None
    """The level of the release, measured from the last final release; None if no release."""
    commit_bump: Bump | None
    """The highest bump the commits ask for, after the 0.x rule; None if none asks."""
    override: Bump | None
    """The bump ``--bump``/``RELEASE_BUMP`` asked for (the higher of the two), if any."""
    override_source: str | None
    """Where the override came from: ``--bump``, ``RELEASE_BUMP`` or both."""
    prerelease: str | None
    """The pre-release kind asked for (``a``, ``b``, ``rc``), if any."""
    api_floor: Bump | None
    """The bump the public API diff requires, as the diff reported it; None if not known."""
    api_breaking: tuple[str, ...]
    """The breaking API changes behind ``api_floor``."""
    major_on_zero: bool
    """Whether breaking changes before 1.0.0 bump major (else minor)."""
    tag: str | None
    """The tag the release would create; None when there is nothing to release."""
    since: str | None
    """The tag the commits were read from (None: the whole history)."""
    commits: tuple[Commit, ...]
    """Every commit considered, oldest first, each with the bump it asks for."""
    files: tuple[str, ...]
    """The files the release would change (empty when there is nothing to release)."""
    reason: str
    """One line: why this bump, or why there is nothing to release."""
    outside: tuple[Commit, ...] = ()
    """Commits since ``since`` that change nothing the runtime is made from (not counted)."""
    scoped: bool = True
    """Whether commits were filtered by path (False with ``--all-paths``)."""
    notes: tuple[str, ...] = ()
    """Lines the plan says besides the version (how the baseline was read, for instance)."""
    labels: tuple[PullLabel, ...] = ()
    """The release labels of the merged pull requests read (``invoke release --on-merge``)."""

    @property
    def release(self) -> bool:
        """Whether there is anything to release."""
        return self.next is not None


def before_one(current: str) -> bool:
    """Whether ``current`` is a 0.x version (breaking changes may bump minor there)."""
    return parse_version(current, where="current version").major == 0


def _zero_rule(bump: Bump | None, *, current: str, major_on_zero: bool) -> Bump | None:
    # Before 1.0.0 a breaking change bumps minor: 0.x promises nothing stable (SemVer item 4).
    if bump == "major" and before_one(current) and not major_on_zero:
        return "minor"
    return bump


def _overrides(
    override: str | None, env_override: str | None
) -> tuple[Bump | None, str | None, list[tuple[str, Bump]]]:
    given: list[tuple[str, Bump]] = []
    if override is not None and override.strip():
        given.append(("--bump", parse_bump(override, where="--bump")))
    if env_override is not None and env_override.strip():
        given.append(("RELEASE_BUMP", parse_bump(env_override, where="RELEASE_BUMP")))
    if not given:
        return None, None, given
    top = cast("Bump", higher_bump(*(bump for _, bump in given)))
    source = " and ".join(name for name, bump in given if bump == top)
    return top, source, given


def _first_asking(commits: Sequence[Commit], bump: Bump, *, current: str, zero: bool) -> Commit:
    for commit in commits:
        if _zero_rule(commit.bump, current=current, major_on_zero=zero) == bump:
            return commit
    return commits[0]  # pragma: no cover - only called when some commit asks for ``bump``


def _apply_skip_labels(commits: tuple[Commit, ...], labels: Sequence[PullLabel]
                       ) -> tuple[Commit, ...]:
    skipped = {sha for label in labels if label.label == SKIP_LABEL for sha in label.commits}
    return tuple(replace(c, skip=True, bump=None) if c.sha in skipped else c for c in commits)


def _label_bump(labels: Sequence[PullLabel], commits: Sequence[Commit]
                ) -> tuple[Bump | None, str | None]:
    """The highest bump a label asks for on a pull request with a counted commit, and whence."""
    counted = {c.sha for c in commits if not c.skip}
    asking = [(LABEL_BUMPS[x.label], x) for x in labels
              if x.label in LABEL_BUMPS and counted.intersection(x.commits)]
    top = higher_bump(*(bump for bump, _ in asking))
    if top is None:
        return None, None
    named = ", ".join(f"#{x.pull}" for bump, x in asking if bump == top)
    return top, f"label release:{top} on {named}"


def _promotable(current: str, prerelease: str | None) -> bool:
    parsed = parse_version(current, where="current version")
    if not parsed.unreleased_base:
        return False
    if prerelease is None:
        return True
    order = ("dev", "a", "b", "rc")
    now = parsed.pre[0] if parsed.pre is not None else "dev"
    return order.index(prerelease) > order.index(now)


def plan_version(
    current: str,
    commits: Sequence[Commit],
    *,
    override: str | None = None,
    env_override: str | None = None,
    prerelease: str | None = None,
    major_on_zero: bool = False,
    api_floor: Bump | None = None,
    api_breaking: Sequence[str] = (),
    tag_prefix: str = "runtime-v",
    since: str | None = None,
    files: Sequence[str] = DEFAULT_FILES,
    outside: Sequence[Commit] = (),
    scoped: bool = True,
    notes: Sequence[str] = (),
    labels: Sequence[PullLabel] = (),
) -> VersionPlan:
    """Decide the next version: highest bump wins, overrides only raise, the API floor holds.

    ``labels`` are the release labels of the merged pull requests: ``release:skip`` makes
    its pull request's commits release nothing; ``release:major|minor|patch`` raises the
    bump (never lowers it, never an error) when its pull request brought a counted commit,
    with the 0.x rule applied as to a breaking commit.

    ``override`` is ``--bump``; ``env_override`` is the raw ``RELEASE_BUMP`` value (``minor``
    or the PR-label form ``release:minor``).  No releasable commit and no override gives a
    plan with ``next=None`` (nothing to release), except that a pre-release can always be
    promoted (``1.3.0rc2`` -> ``1.3.0``, or ``a`` -> ``rc``).  Raises ``OverrideTooLowError``
    when an override is below what the commits ask, ``BelowApiFloorError`` when the release
    would be below ``api_floor``.  ``outside`` are the commits of the window that change
    nothing the runtime is made from: they are reported, never counted.
    """
    validate_version(current, where="current version")
    kind = parse_prerelease(prerelease)
    commits = _apply_skip_labels(tuple(commits), labels)
    commit_bump = _zero_rule(
        higher_bump(*(c.bump for c in commits)), current=current, major_on_zero=major_on_zero
    )
    top, source, given = _overrides(override, env_override)
    label, label_source = _label_bump(labels, commits)
    label = _zero_rule(label, current=current, major_on_zero=major_on_zero)
    for name, bump in given:
        if bump_rank(bump) < bump_rank(commit_bump):
            asked = cast("Bump", commit_bump)
            first = _first_asking(commits, asked, current=current, zero=major_on_zero)
            raise OverrideTooLowError(
                f"{name} {bump} is lower than the {asked} bump the commits ask for "
                f"({first.short} {first.subject}); an override can raise the bump, never "
                f"lower it: drop {name} or set it to {asked} or higher"
            )
    if bump_rank(label) > bump_rank(higher_bump(commit_bump, top)):
        top, source = label, label_source
    requested = higher_bump(commit_bump, top)
    floor = _zero_rule(api_floor, current=current, major_on_zero=major_on_zero)
    plan = VersionPlan(
        current=current, next=None, bump=None, commit_bump=commit_bump, override=top,
        override_source=source, prerelease=kind, api_floor=api_floor,
        api_breaking=tuple(api_breaking), major_on_zero=major_on_zero, tag=None, since=since,
        commits=commits, files=(), reason="", outside=tuple(outside), scoped=scoped,
        notes=tuple(notes), labels=tuple(labels),
    )  # fmt: skip
    if requested is None and not _promotable(current, kind):
        considered = ", ".join(sorted({c.type or "non-conventional" for c in commits}))
        skipped = f", {len(outside)} outside the runtime" if outside else ""
        asks = "changes the runtime" if not commits and outside else "asks for a release"
        why = (
            f"nothing to release: no commit since {since or 'the first commit'} {asks} "
            f"({len(commits)} considered"
            + (f": {considered}" if considered else "")
            + f"{skipped}); pass --bump to release anyway"
        )
        return replace(plan, reason=why)
    promoting = requested is None
    level = release_level(current, requested or "patch")
    raised_by_api = False
    if not promoting and api_floor == "minor" and bump_rank(level) < bump_rank(floor):
        # Additions to the public API ask for a minor release, and nothing a caller relies on
        # can break, so they raise the release themselves; only a break needs a person.
        requested, level, raised_by_api = "minor", release_level(current, "minor"), True
    if bump_rank(level) < bump_rank(floor):
        shown = "; ".join(api_breaking[:_MAX_LISTED])
        more = len(api_breaking) - _MAX_LISTED
        shown += f"; and {more} more" if more > 0 else ""
        raise BelowApiFloorError(
            f"the public API needs a {floor} release but this one would be {level}: "
            f"{shown or 'breaking changes found by the API diff'}; rerun with --bump {floor}, "
            "or, for a deliberate break, add each name to [tool.runtime-build.api-ignore] in "
            "pyproject.toml with the reason"
        )
    nxt = bump_version(current, requested or "patch", prerelease=kind)
    why = (
        f"promote {current} to {nxt}"
        if promoting
        else f"{level} release: commits ask for {commit_bump or 'nothing'}"
        + (f", {source} asks for {top}" if top else "")
        + (", the public API's additions ask for minor" if raised_by_api else "")
    )
    return replace(
        plan, next=nxt, bump=level, tag=f"{tag_prefix}{nxt}", files=tuple(files), reason=why
    )
