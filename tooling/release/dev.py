"""Dev releases: publish the next ``X.Y.Z.devN`` of the planned version, no version commit.

Their journals live in ``.release/dev/``; the tag and the cascade are skipped unless asked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tooling.cli import step
from tooling.errors import ToolingError
from tooling.index import index_url_from_env, read_project
from tooling.release import steps
from tooling.release.context import ReleaseContext, confirm
from tooling.release.gitcore import head_commit
from tooling.release.inputs import check_inputs, require_consumer_list
from tooling.release.journal import JOURNAL_DIR, Journal, Step
from tooling.release.planning import journal_for, plan_release, plan_result
from tooling.release.records import CommitRecord, to_json
from tooling.release.repo import preflight
from tooling.release.report import report_release
from tooling.versioning.render import describe_plan, plan_to_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.config import Config
    from tooling.release.context import ReleaseOptions
    from tooling.versioning.decision import VersionPlan

__all__ = [
    "DEV_DIR",
    "dev_version",
    "next_dev_version",
    "release_dev",
    "start_dev_journal",
]


DEV_DIR = "dev"
"""Dev-release journals live in ``.release/dev/``, apart from the releases a run resumes."""


def next_dev_version(base: str, served: Sequence[str]) -> str:
    """Return ``base.devN`` with N one above the highest ``base.devM`` in ``served`` (else 0)."""
    prefix = f"{base}.dev"
    taken = [int(v[len(prefix):]) for v in served
             if v.startswith(prefix) and v[len(prefix):].isdigit()]
    return f"{prefix}{max(taken) + 1 if taken else 0}"


def start_dev_journal(config: Config, plan: VersionPlan, version: str) -> Journal:
    """Create the journal of a dev release; its "commit" is HEAD itself (none is made)."""
    recorded = to_json(plan_to_json(plan))
    head = head_commit(config.root)
    recorded.update({"base": head, "dev": True, "next": version})
    directory = config.root / JOURNAL_DIR / DEV_DIR
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / f"{version}.json"
    if old.exists():  # an earlier run that uploaded nothing (else N would have moved on)
        old.replace(old.with_name(f"{old.name}.stale-{int(time.time())}"))
    journal = Journal.create(directory, version, config.tag_for(version), recorded)
    journal.begin(Step.PLAN)
    journal.finish(Step.PLAN, plan_result(version, journal.tag, recorded))
    journal.begin(Step.COMMIT)
    # A dev release makes no commit: HEAD stands in for it, named as such.
    journal.finish(Step.COMMIT, {**to_json(CommitRecord(head, head, "dev release: no commit")),
                                 "skipped": "dev"})
    return journal


def dev_version(config: Config, plan: VersionPlan) -> str:
    """Return the next ``X.Y.Z.devN`` of the planned version free on the index."""
    url = index_url_from_env()
    if not url:
        raise ToolingError("--dev finds the next free .devN on the index: set RUNTIME_INDEX_URL")
    served = read_project(url, config.name).versions()
    return next_dev_version(str(plan.next), sorted(served))


def release_dev(config: Config, options: ReleaseOptions) -> int:
    """Publish the next ``X.Y.Z.devN``: build, smoke, upload, read back; tag/cascade if asked."""
    unfinished = journal_for(config)
    if unfinished is not None:
        raise ToolingError(f"release {unfinished.version} is unfinished; run `invoke release` "
                           "to finish it (or abandon it, docs/release.md) before a dev release")
    with step("preflight"):
        preflight(config)
        check_inputs(config, options, dry_run=False)
        if options.cascade:
            require_consumer_list(options)
    with step("plan"):
        plan = plan_release(config, options)
    if plan.next is None:
        raise ToolingError(f"no version to make a dev release of: {plan.reason}")
    version = dev_version(config, plan)
    confirm(f"{describe_plan(plan)}\ndev release {version}?", options)
    ctx = ReleaseContext(config, start_dev_journal(config, plan, version), options)
    steps.run_step(ctx, Step.BUILD, steps.build)
    steps.run_step(ctx, Step.SMOKE, steps.smoke)
    if options.tag:
        steps.run_step(ctx, Step.TAG, steps.tag)          # at HEAD: a dev release makes no commit
        steps.run_step(ctx, Step.PUSH, steps.push)        # the tag only: HEAD is on the remote
    else:
        steps.skip_step(ctx, Step.TAG, "dev release without --tag")
        steps.skip_step(ctx, Step.PUSH, "dev release without --tag")
    steps.run_step(ctx, Step.PUBLISH, steps.publish)
    steps.run_step(ctx, Step.READ_BACK, steps.read_back_files)
    if options.cascade:
        steps.run_step(ctx, Step.CASCADE, steps.cascade)
        steps.run_step(ctx, Step.CONVERGE, steps.converge)
    else:
        steps.skip_step(ctx, Step.CASCADE, "dev release without --cascade")
        steps.skip_step(ctx, Step.CONVERGE, "dev release without --cascade")
    report_release(ctx.journal, ctx.timings, options)
    return 0
