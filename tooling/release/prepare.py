"""Before the first step: the dry run, preflight, and the journal to run.

That journal is the unfinished release's (resumed), one adopted from the release tag at HEAD,
or a new plan's; or there is nothing to release, and the run says so.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from tooling.cli import step
from tooling.config import load_config
from tooling.release import onmerge
from tooling.release.context import confirm
from tooling.release.dev import dev_version
from tooling.release.inputs import check_inputs, require_consumer_list
from tooling.release.journal import Journal, Step
from tooling.release.planning import journal_for, open_journal, plan_release, start_journal
from tooling.release.repo import preflight
from tooling.release.tagged import (
    TaggedRelease,
    describe_tagged,
    find_tagged_release,
    finished_here,
    start_tagged_journal,
)
from tooling.release.versioncommit import pending_files
from tooling.versioning.render import describe_plan, plan_to_json

if TYPE_CHECKING:
    from tooling.config import Config
    from tooling.release.context import ReleaseOptions
    from tooling.versioning.decision import VersionPlan

__all__ = [
    "dry_run",
    "open_or_start",
]


def dry_run(options: ReleaseOptions) -> int:
    """Print what a release would do, changing nothing."""
    config = load_config()
    unfinished = journal_for(config)
    tagged = find_tagged_release(config) if unfinished is None else None
    if tagged is not None and finished_here(config, tagged):
        print(f"nothing to release: {tagged.tag} at HEAD was released from this checkout")
        return 0
    with step("preflight", quiet=options.json_output):
        preflight(config, dry_run=True, tagged=tagged.tag if tagged else None)
        check_inputs(config, options, dry_run=True)
    if tagged is not None:
        if options.json_output:
            print(json.dumps({"release": True, "adopt": asdict(tagged), "next": tagged.version,
                              "tag": tagged.tag}, indent=2))
        else:
            print(describe_tagged(tagged))
        return 0
    with step("plan", quiet=options.json_output):
        plan = plan_release(config, options)
    held = _held(config, plan, options)
    dev = dev_version(config, plan) if options.dev and plan.next else None
    if options.json_output:
        report = plan_to_json(plan)
        report["resume"] = unfinished.next_step() if unfinished else None
        report["held"] = held.line(plan.current) if held else None
        report["dev"] = dev
        print(json.dumps(report, indent=2))
    else:
        print(describe_plan(plan))
        if held is not None:
            print(f"on merge: {held.line(plan.current)}")
        if dev is not None:
            print(f"dev release: {dev} (no version commit, no changelog)")
        if unfinished is not None:
            print(f"unfinished release {unfinished.version}: a real run resumes it at "
                  f"{unfinished.next_step()}")
    return 0


def _said_already_released(
    config: Config, tagged: TaggedRelease, options: ReleaseOptions
) -> bool:
    """Say "nothing to release" when HEAD's tag needs no run here; whether it was said."""
    if finished_here(config, tagged):
        reason = f"nothing to release: {tagged.tag} at HEAD was released from this checkout"
    elif options.on_merge:
        # The version commit of a release this branch already has: its tag's run publishes it.
        reason = f"nothing to release: HEAD is {tagged.tag}, already released"
    else:
        return False
    print(json.dumps({"release": False, "next": None, "tag": tagged.tag,
                      "reason": reason}) if options.json_output else reason)
    return True


def open_or_start(config: Config, options: ReleaseOptions) -> Journal | None:
    """Run preflight and return the journal to run: resumed, adopted from a tag, or planned.

    None when there is nothing to release (already said so).
    """
    journal = open_journal(config)
    # HEAD at the release tag of pyproject's version (CI on a tag push): release it as is.
    tagged = find_tagged_release(config) if journal is None else None
    if tagged is not None and _said_already_released(config, tagged, options):
        return None
    tag = tagged.tag if tagged else None
    if journal is not None and journal.plan.get("adopted"):
        tag = journal.tag  # a resumed tagged release keeps its preflight (HEAD may be detached)
    with step("preflight"):
        preflight(config, allow_dirty=pending_files(journal, config),
                         pushed=journal is not None and journal.is_done(Step.PUSH), tagged=tag,
                         resuming=journal.tag if journal is not None
                         and journal.is_done(Step.TAG) else None)
        check_inputs(config, options, dry_run=False)
    if tagged is not None or journal is not None:
        require_consumer_list(options)
    if tagged is not None:
        print(describe_tagged(tagged), file=sys.stderr)
        confirm(f"release {tagged.version} from {tagged.tag}?", options)
        return start_tagged_journal(config, tagged)
    if journal is not None:
        if options.bump or options.prerelease:
            print(f"note: resuming release {journal.version} as planned; --bump and "
                  "--prerelease apply to the next release", file=sys.stderr)
        confirm(f"resume release {journal.version} at {journal.next_step()}?", options)
        return journal
    with step("plan"):
        plan = plan_release(config, options)
    if plan.next is None:
        print(json.dumps(plan_to_json(plan)) if options.json_output else plan.reason)
        return None
    require_consumer_list(options)
    held = _held(config, plan, options)
    if held is not None:  # before anything is written: a major on merge needs a person
        if options.json_output:
            print(json.dumps({**plan_to_json(plan), "held": held.line(plan.current)}))
        raise onmerge.hold_major(config, held, plan, onmerge.forge_from_env())
    confirm(f"{describe_plan(plan)}\nrelease {plan.next}?", options)
    return start_journal(config, plan)


def _held(config: Config, plan: VersionPlan, options: ReleaseOptions) -> onmerge.Held | None:
    """Return why an on-merge plan must wait for a person (docs/release.md "The major gate")."""
    if not options.on_merge or not config.confirm_major:
        return None
    return onmerge.held_reasons(plan, bump=options.bump)
