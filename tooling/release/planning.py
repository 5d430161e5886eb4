"""Which release to run: the unfinished one's journal, or a new plan and its journal.

A plan comes from the commits, with the API diff's required bump as its floor (and, on
merge, the merged pull requests' labels).  A plan gone stale, or a release that lost the
push race, is set aside.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import TYPE_CHECKING

from tooling.api.diff import api_floor
from tooling.errors import ToolingError
from tooling.release import onmerge
from tooling.release.context import journal_text
from tooling.release.gitcore import head_commit
from tooling.release.journal import JOURNAL_DIR, Journal, JsonValue, Step, find_unfinished
from tooling.release.records import PlanRecord, to_json
from tooling.release.versioncommit import drop_local_release, release_message
from tooling.versioning.changelog import release_date, render_section
from tooling.versioning.history import last_release_tag
from tooling.versioning.plan import plan_from_repo
from tooling.versioning.render import plan_to_json

if TYPE_CHECKING:
    from tooling.config import Config
    from tooling.release.context import ReleaseOptions
    from tooling.version import Bump
    from tooling.versioning.decision import VersionPlan

__all__ = [
    "journal_for",
    "open_journal",
    "plan_release",
    "plan_result",
    "set_aside_unpushed",
    "start_journal",
]


def journal_for(config: Config) -> Journal | None:
    """Return the unfinished release's journal, if there is one."""
    return find_unfinished(config.root / JOURNAL_DIR)


def open_journal(config: Config) -> Journal | None:
    """Return the unfinished journal to resume; one whose plan went stale is set aside.

    A plan is stale when HEAD moved since it was made and nothing irreversible happened yet
    (no version commit): the release is planned afresh from the new HEAD.
    """
    journal = journal_for(config)
    if journal is not None and not journal.is_done("plan"):
        # Killed between creating the journal and recording its plan step: the plan is there.
        journal.finish(Step.PLAN, plan_result(journal.version, journal.tag, journal.plan))
    if journal is None or journal.is_done(Step.COMMIT) or journal.was_started(Step.COMMIT):
        return journal
    if journal_text(journal.plan, "base", str(journal.path)) == head_commit(config.root):
        return journal
    stale = journal.path.with_name(f"{journal.path.name}.stale-{int(time.time())}")
    journal.path.replace(stale)
    print(f"note: HEAD moved since release {journal.version} was planned and nothing was "
          f"committed yet; planning again (old journal kept as {stale.name})", file=sys.stderr)
    return None


def _api_floor(
    config: Config, since: str | None
) -> tuple[Bump, tuple[str, ...], tuple[str, ...]]:
    """The bump the API diff against ``since`` requires, the changes behind it, and its notes.

    A minor floor comes from additions: they are named, so a refused patch release says why.
    """
    diff = api_floor(config, since)
    reasons = diff.breaking or diff.added
    changes = tuple(f"{c.path} ({c.kind}): {c.message}" for c in reasons)
    return diff.required_bump, changes, diff.notes


def plan_release(config: Config, options: ReleaseOptions) -> VersionPlan:
    """Plan the next version from the commits, with the API diff's required bump as floor."""
    since = options.against or last_release_tag(config.root, config.tag_prefix)
    floor, breaking, notes = _api_floor(config, since)
    if options.on_merge:
        # The merged pull requests' release labels (docs/release.md) may lift the release
        # above the API floor, so the floor is applied once they are in.
        draft = plan_from_repo(
            config.root, bump=options.bump, prerelease=options.prerelease,
            against=options.against, baseline_version=options.baseline_version,
            all_paths=options.all_paths, notes=notes,
        )
        labels = onmerge.read_labels(config, draft, onmerge.forge_from_env())
        return onmerge.plan_with_labels(config, draft, labels, bump=options.bump,
                                        api_floor=floor, api_breaking=breaking)
    return plan_from_repo(
        config.root, bump=options.bump, prerelease=options.prerelease, api_floor=floor,
        api_breaking=breaking, against=options.against,
        baseline_version=options.baseline_version, all_paths=options.all_paths, notes=notes,
    )


def start_journal(config: Config, plan: VersionPlan) -> Journal:
    """Create the journal of a new release from its plan; the plan step is then done."""
    if plan.next is None or plan.tag is None:
        raise ToolingError(f"no release to start: {plan.reason}")
    recorded = to_json(plan_to_json(plan))
    recorded["base"] = head_commit(config.root)
    # Names this run in its tag message and its version commit, so two runs racing from the
    # same base never make the same objects (and both "win" the push); the one the remote
    # refuses learns it lost (tagpush.tag_message, docs/release.md "Concurrent releases").
    recorded["release_id"] = uuid.uuid4().hex
    recorded["changelog"] = render_section(plan.next, plan.commits, date=release_date())
    journal = Journal.create(config.root / JOURNAL_DIR, plan.next, plan.tag, recorded)
    journal.begin(Step.PLAN)
    journal.finish(Step.PLAN, plan_result(plan.next, plan.tag, recorded))
    return journal


def set_aside_unpushed(config: Config) -> str | None:
    """Undo the unpushed release whose push lost a race; keep its journal aside.  Its version.

    Only a release nothing irreversible happened to yet (not pushed) is undone: its local
    version commit and tag go, so the next plan starts from the remote's new tip.
    """
    journal = journal_for(config)
    if journal is None or journal.is_done("push"):
        return None
    base = journal_text(journal.plan, "base", str(journal.path))
    drop_local_release(config.root, journal.tag, base,
                              release_message(journal.version))
    journal.path.replace(journal.path.with_name(f"{journal.path.name}.lost-{int(time.time())}"))
    return journal.version


def plan_result(version: str, tag: str, plan: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Return the plan step's journal record for release ``version`` at ``tag``."""
    return to_json(PlanRecord(version, tag, plan.get("base"), plan.get("bump")))
