"""Release on merge: the merged pull requests' labels, and the human gate for a major release.

``invoke release --on-merge`` (the release workflow on a push to the release branch) plans
from the commits as always, then asks the forge which merged pull requests brought those
commits in and reads their ``release:*`` labels (docs/release.md "Release on merge").  A plan
that is major (a breaking commit, a ``release:major`` label or the API floor; before 1.0.0 the
minor that stands in for it) proceeds only when a merged pull request carries
``release:major`` or a person asked for ``--bump major`` (a dispatch with ``bump = major``);
otherwise the run stops before anything is changed, with ``HELD_EXIT``.

``pull_labels`` and ``held_reasons`` decide; the functions that talk to git, the forge and the
job summary are short and named for what they do.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cascade.forge import ForgeClient, ForgeError, MergedPull
from tooling.errors import ToolingError
from tooling.proc import run
from tooling.version import parse_bump
from tooling.versioning.decision import LABEL_BUMPS, SKIP_LABEL, PullLabel, plan_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.config import Config
    from tooling.version import Bump
    from tooling.versioning.decision import VersionPlan

__all__ = [
    "HELD_EXIT",
    "HELD_MARKER",
    "ForgeSettings",
    "Held",
    "MajorHeldError",
    "attribute_pulls",
    "find_pulls",
    "forge_from_env",
    "held_reasons",
    "hold_major",
    "plan_with_labels",
    "pull_labels",
    "read_labels",
]

HELD_EXIT = 3
"""Exit code of an on-merge run held because a major release was not confirmed."""
HELD_MARKER = "<!-- runtime-release: major release held -->"
"""Marks the comment a held run leaves on a pull request, so a re-run does not repeat it."""
_MAJOR_LABEL = "release:major"
_SHOWN = 8


class MajorHeldError(ToolingError):
    """An on-merge release that would be major and nobody confirmed: nothing was changed."""

    def __init__(self, message: str) -> None:
        """Keep the message; the exit code is ``HELD_EXIT``."""
        super().__init__(message, exit_code=HELD_EXIT)


@dataclass(frozen=True)
class ForgeSettings:
    """Where the release reads pull requests from (the Actions variables of the run)."""

    kind: str
    """``github`` or ``gitea``."""
    api_url: str
    """The REST API root (``GITHUB_API_URL``: Gitea sets it to ``https://HOST/api/v1``)."""
    repository: str
    """``owner/name`` (``GITHUB_REPOSITORY``)."""
    token: str
    """The job's token (``GITHUB_TOKEN``); empty reads public data only."""

    def client(self) -> ForgeClient:
        """Return a client for this forge."""
        return ForgeClient(self.kind, self.api_url, self.token or None)


@dataclass(frozen=True)
class Held:
    """Why a release plan needs a person's confirmation before it may be major."""

    version: str
    """The version the release would make."""
    commits: tuple[str, ...]
    """The breaking commits, ``short subject`` each."""
    api: tuple[str, ...]
    """The breaking API changes, when the API diff requires a major release."""
    breaking: frozenset[str]
    """The full hashes of the breaking commits."""

    def line(self, current: str) -> str:
        """Return the one line the run ends with."""
        causes = [f"commit {c}" for c in self.commits[:_SHOWN]]
        causes += [f"API change {a}" for a in self.api[:_SHOWN]]
        more = len(self.commits) + len(self.api) - len(causes)
        shown = "; ".join(causes) + (f"; and {more} more" if more > 0 else "")
        shown = shown or "the planned bump"
        return (
            f"release held: {current} -> {self.version} is a major release ({shown}) and "
            f"nobody confirmed it; to release it, label a merged pull request "
            f"{_MAJOR_LABEL} and re-run this job, or dispatch the release workflow with "
            "bump = major; nothing was tagged or published"
        )

    def markdown(self, current: str) -> str:
        """Return the job-summary section (and pull-request comment) for the held release."""
        lines = [
            "## Runtime release held: major release needs confirmation", "",
            (f"Merging made the next release **{current} -> {self.version}**, a major "
            "release. Nothing was tagged or published."), "",
        ]
        if self.commits:
            lines += ["Breaking commits:", "", *(f"- `{c}`" for c in self.commits), ""]
        if self.api:
            lines += ["Breaking public API changes:", "", *(f"- {a}" for a in self.api), ""]
        lines += [
            "To release it, either:", "",
            (f"- add the label `{_MAJOR_LABEL}` to a merged pull request of this release and "
            "re-run the release job, or"),
            "- run the release workflow by hand with `bump = major`.", "",
            'See docs/release.md, "The major gate".',
        ]
        return "\n".join(lines) + "\n"


def forge_from_env(env: Mapping[str, str] | None = None) -> ForgeSettings:
    """Read the forge from the Actions variables; an error naming what is missing.

    ``RELEASE_FORGE`` (``github`` or ``gitea``) overrides the guess (Gitea Actions sets
    ``GITEA_ACTIONS=true``).
    """
    source = os.environ if env is None else env
    kind = source.get("RELEASE_FORGE", "").strip() or (
        "gitea" if source.get("GITEA_ACTIONS") == "true" else "github")
    if kind not in {"github", "gitea"}:
        raise ToolingError(f"RELEASE_FORGE is {kind!r}; set it to github or gitea")
    missing = [n for n in ("GITHUB_API_URL", "GITHUB_REPOSITORY") if not source.get(n, "").strip()]
    if missing:
        raise ToolingError(
            f"--on-merge reads the merged pull requests' labels from the forge, but "
            f"{' and '.join(missing)} is not set; Actions sets both (elsewhere export them, "
            "and GITHUB_TOKEN)"
        )
    return ForgeSettings(kind, source["GITHUB_API_URL"].strip(),
                         source["GITHUB_REPOSITORY"].strip(), source.get("GITHUB_TOKEN", ""))


# -- labels ---------------------------------------------------------------------------------


def attribute_pulls(
    found: Mapping[str, Sequence[MergedPull]], brought: Mapping[str, Sequence[str]],
    *, branch: str,
) -> dict[int, tuple[MergedPull, frozenset[str]]]:
    """Map each pull request merged into ``branch`` to itself and the planned commits it brought.

    ``found`` maps each commit asked about to the merged pull requests the forge named for it;
    ``brought`` maps a merge commit to the planned commits it brought in (Gitea names a pull
    request only by its merge commit).
    """
    commits: dict[int, set[str]] = {}
    pulls: dict[int, MergedPull] = {}
    for sha, merged in found.items():
        for pull in merged:
            if pull.base and pull.base != branch:
                continue
            pulls[pull.number] = pull
            commits.setdefault(pull.number, set()).update(brought.get(sha, (sha,)))
    return {n: (pulls[n], frozenset(commits[n])) for n in sorted(pulls)}


def pull_labels(pulls: Mapping[int, tuple[MergedPull, frozenset[str]]]) -> tuple[PullLabel, ...]:
    """Return the release labels of ``pulls``: one entry per pull request and label, in order."""
    known = {*LABEL_BUMPS, SKIP_LABEL}
    return tuple(
        PullLabel(label, number, pull.url, tuple(sorted(commits)))
        for number, (pull, commits) in sorted(pulls.items())
        for label in sorted(set(pull.labels) & known)
    )


def _git_lines(repo: Path, *args: str) -> list[str]:
    return run(["git", *args], cwd=repo, what=f"git {args[0]}").stdout.split()


def _merges_brought(repo: Path, since: str | None, planned: set[str]) -> dict[str, list[str]]:
    """Map each merge commit since ``since`` to the planned commits its second parent brought."""
    revs = f"refs/tags/{since}..HEAD" if since else "HEAD"
    brought: dict[str, list[str]] = {}
    for merge in _git_lines(repo, "rev-list", "--merges", revs):
        side = _git_lines(repo, "rev-list", "--no-merges", f"{merge}^1..{merge}")
        brought[merge] = [sha for sha in side if sha in planned]
    return brought


def find_pulls(config: Config, plan: VersionPlan, forge: ForgeSettings
               ) -> dict[int, tuple[MergedPull, frozenset[str]]]:
    """Ask the forge which merged pull requests brought the plan's commits in."""
    planned = {c.sha for c in plan.commits}
    brought = _merges_brought(config.root, plan.since, planned)
    asked = [*sorted(planned), *brought]
    with forge.client() as client:
        found = {sha: client.merged_pulls_for_commit(forge.repository, sha) for sha in asked}
    return attribute_pulls(found, brought, branch=config.release_branch)


def read_labels(config: Config, plan: VersionPlan, forge: ForgeSettings) -> tuple[PullLabel, ...]:
    """Return the release labels of the merged pull requests that brought the plan's commits."""
    return pull_labels(find_pulls(config, plan, forge))


def plan_with_labels(
    config: Config, draft: VersionPlan, labels: Sequence[PullLabel], *, bump: str | None,
    api_floor: Bump | None, api_breaking: Sequence[str], env: Mapping[str, str] | None = None,
) -> VersionPlan:
    """Plan again from ``draft``'s commits, with the labels applied, then the API floor."""
    source = os.environ if env is None else env
    return plan_version(
        draft.current, draft.commits, override=bump, env_override=source.get("RELEASE_BUMP"),
        prerelease=draft.prerelease, major_on_zero=draft.major_on_zero, api_floor=api_floor,
        api_breaking=api_breaking, tag_prefix=config.tag_prefix, since=draft.since,
        outside=draft.outside, scoped=draft.scoped, notes=draft.notes, labels=labels,
    )


# -- the major gate -------------------------------------------------------------------------


def _confirmed(plan: VersionPlan, bump: str | None, env: Mapping[str, str]) -> bool:
    asked = [value for value in (bump, env.get("RELEASE_BUMP")) if value and value.strip()]
    if any(parse_bump(value, where="--bump") == "major" for value in asked):
        return True
    counted = {c.sha for c in plan.commits if not c.skip}
    return any(x.label == _MAJOR_LABEL and counted.intersection(x.commits) for x in plan.labels)


def held_reasons(
    plan: VersionPlan, *, bump: str | None, env: Mapping[str, str] | None = None
) -> Held | None:
    """Return why ``plan`` must wait for a person, or None when it may proceed.

    Major means: the plan's bump is major, or a counted commit is breaking, or the API diff
    requires major (before 1.0.0 those make the minor that stands in for major).
    """
    source = os.environ if env is None else env
    if plan.next is None:
        return None
    breaking = [c for c in plan.commits if c.breaking and not c.skip]
    api = plan.api_breaking if plan.api_floor == "major" else ()
    if plan.bump != "major" and not breaking and not api:
        return None
    if _confirmed(plan, bump, source):
        return None
    return Held(
        version=plan.next,
        commits=tuple(f"{c.short} {c.subject}" for c in breaking),
        api=tuple(api),
        breaking=frozenset(c.sha for c in breaking),
    )


def _write_summary(text: str, env: Mapping[str, str]) -> None:
    """Append ``text`` to the job summary file Actions names (appended, as Actions asks)."""
    target = env.get("GITHUB_STEP_SUMMARY", "").strip()
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"warning: could not write the job summary {target}: {exc}", file=sys.stderr)


def _comment(forge: ForgeSettings, pulls: Sequence[int], body: str) -> None:
    """Tell each pull request once; a token that may not comment gets a warning, not a failure."""
    with forge.client() as client:
        for number in pulls:
            try:
                if any(HELD_MARKER in old for old in client.issue_comments(forge.repository,
                                                                           number)):
                    continue
                client.comment(forge.repository, number, f"{HELD_MARKER}\n{body}")
            except ForgeError as exc:
                print(f"warning: could not comment on #{number}: {exc}",
                      file=sys.stderr)


def hold_major(config: Config, held: Held, plan: VersionPlan, forge: ForgeSettings,
               env: Mapping[str, str] | None = None) -> MajorHeldError:
    """Write the job summary, comment on the pull requests; return the error to end with.

    The pull requests told are those that brought a breaking commit (all of them when the
    API diff alone makes the release major).
    """
    source = os.environ if env is None else env
    text = held.markdown(plan.current)
    _write_summary(text, source)
    pulls = find_pulls(config, plan, forge)
    told = [n for n, (_, commits) in pulls.items() if commits & held.breaking]
    _comment(forge, told or list(pulls), text)
    return MajorHeldError(held.line(plan.current))
