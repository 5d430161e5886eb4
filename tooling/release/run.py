"""The release, step by step, and the functions behind each invoke task.

``release`` below is the table of contents: one progress line and one stage call per step.
The steps themselves live in ``tooling.release.steps``; the journal that makes a crashed
release resume where it stopped, and the lock that lets only one run at a time, in
``tooling.release.journal``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from tooling.cli import DEBUG_ENV, guarded, step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.index import index_url_from_env, read_project
from tooling.release import onmerge, steps
from tooling.release import repo as gitops
from tooling.release.journal import (
    JOURNAL_DIR,
    Journal,
    Step,
    release_lock,
    release_temp_dir,
)
from tooling.release.records import CommitRecord
from tooling.release.tagged import (
    TaggedRelease,
    describe_tagged,
    find_tagged_release,
    finished_here,
    start_tagged_journal,
)
from tooling.release.upload import dist_files, publish_files, read_back
from tooling.summary import append_section, cell, link, markdown_table, section
from tooling.versioning.plan import describe_plan, plan_to_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.config import Config
    from tooling.versioning.plan import VersionPlan

__all__ = [
    "main",
    "refuse_empty",
    "release",
    "run_cascade",
    "run_compat",
    "run_converge",
    "run_drift",
    "run_publish",
    "run_release",
    "run_tag",
    "run_versions",
    "run_workflows",
]


def refuse_empty(flag: str, value: str | None) -> str | None:
    """Return ``value``; None means "not given" (the default applies), ``""`` is refused.

    An explicit empty value is almost always an unset variable (``--version "$VERSION"``):
    taking the default instead would act on a value nobody asked for.
    """
    if value is not None and not value.strip():
        raise ToolingError(
            f"{flag}: an empty value was given; give a value, or leave {flag} out for the default"
        )
    return value


def _opt(flag: str, value: str | int | None) -> list[str]:
    if isinstance(value, str):
        refuse_empty(flag, value)
    return [] if value is None or value == 0 else [flag, str(value)]


def _stage_main(command: str, flags: list[tuple[str, str | int | None]], *, consumers: str,
                json_output: bool, switches: Sequence[str] = ()) -> int:
    from tooling.cascade import cli as cascade

    def work() -> int:
        argv = [command, *(a for f, v in flags for a in _opt(f, v)), "--consumers", consumers,
                *switches]
        return cascade.main([*argv, *(["--json"] if json_output else [])])

    return guarded(work)


def run_cascade(
    *, version: str | None, consumers: str, jobs: int | None, json_output: bool,
    allow_held: bool = False,
) -> int:
    """`invoke cascade`: bump every non-exempt consumer's pin."""
    return _stage_main("cascade", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output,
                       switches=["--allow-held"] if allow_held else [])


def run_converge(
    *, version: str | None, consumers: str, jobs: int | None, json_output: bool,
    allow_held: bool = False,
) -> int:
    """`invoke converge`: read back every consumer's pin."""
    return _stage_main("converge", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output,
                       switches=["--allow-held"] if allow_held else [])


def run_drift(
    *, org: str | None, consumers: str, jobs: int | None, json_output: bool, fix: bool = False,
    max_count: int | None = None, allow_held: bool = False,
) -> int:
    """`invoke drift [--fix [--max N]]`: consumers whose pin lags the index, optionally healed."""
    switches = [*(["--fix"] if fix else []), *(["--allow-held"] if allow_held else [])]
    return _stage_main("drift", [("--org", org), ("--jobs", jobs), ("--max", max_count)],
                       consumers=consumers, json_output=json_output, switches=switches)


def run_versions(*, json_output: bool) -> int:
    """`invoke versions`: every place a version lives."""
    from tooling.release import survey as versions

    return versions.main(["--json"] if json_output else [])


def run_compat(*, check: str | None, json_output: bool) -> int:
    """`invoke compat`: this build's compat.json, or a consumer's needs checked against it."""
    from tooling.api import compat

    return guarded(lambda: compat.main([*_opt("--check", check),
                                        *(["--json"] if json_output else [])]))


def run_workflows(*, check: bool) -> int:
    """`invoke workflows`: generate (or check) the CI workflow files."""
    from tooling.ci import workflows

    return workflows.main(["--check"] if check else [])


def _confirm(question: str, options: steps.ReleaseOptions) -> None:
    if options.yes:
        return
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
        raise ToolingError("release cancelled at the prompt; nothing was changed")


def _require_prompt(options: steps.ReleaseOptions) -> None:
    # Decided before anything runs, so CI without --yes fails at once and changes nothing.
    if not options.yes and not options.dry_run and not sys.stdin.isatty():
        raise ToolingError("no terminal to confirm the release on; pass --yes (CI does)")


def dry_run(options: steps.ReleaseOptions) -> int:
    """Print what a release would do, changing nothing."""
    config = load_config()
    unfinished = steps.journal_for(config)
    tagged = find_tagged_release(config) if unfinished is None else None
    if tagged is not None and finished_here(config, tagged):
        print(f"nothing to release: {tagged.tag} at HEAD was released from this checkout")
        return 0
    with step("preflight", quiet=options.json_output):
        gitops.preflight(config, dry_run=True, tagged=tagged.tag if tagged else None)
        steps.check_inputs(config, options, dry_run=True)
    if tagged is not None:
        if options.json_output:
            print(json.dumps({"release": True, "adopt": asdict(tagged), "next": tagged.version,
                              "tag": tagged.tag}, indent=2))
        else:
            print(describe_tagged(tagged))
        return 0
    with step("plan", quiet=options.json_output):
        plan = steps.plan_release(config, options)
    held = _held(config, plan, options)
    dev = _dev_version(config, plan) if options.dev and plan.next else None
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
    config: Config, tagged: TaggedRelease, options: steps.ReleaseOptions
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


def _open_or_start(config: Config, options: steps.ReleaseOptions) -> Journal | None:
    """Run preflight and return the journal to run: resumed, adopted from a tag, or planned.

    None when there is nothing to release (already said so).
    """
    journal = steps.open_journal(config)
    # HEAD at the release tag of pyproject's version (CI on a tag push): release it as is.
    tagged = find_tagged_release(config) if journal is None else None
    if tagged is not None and _said_already_released(config, tagged, options):
        return None
    tag = tagged.tag if tagged else None
    if journal is not None and journal.plan.get("adopted"):
        tag = journal.tag  # a resumed tagged release keeps its preflight (HEAD may be detached)
    with step("preflight"):
        gitops.preflight(config, allow_dirty=steps.pending_files(journal, config),
                         pushed=journal is not None and journal.is_done(Step.PUSH), tagged=tag,
                         resuming=journal.tag if journal is not None
                         and journal.is_done(Step.TAG) else None)
        steps.check_inputs(config, options, dry_run=False)
    if tagged is not None or journal is not None:
        steps.require_consumer_list(options)
    if tagged is not None:
        print(describe_tagged(tagged), file=sys.stderr)
        _confirm(f"release {tagged.version} from {tagged.tag}?", options)
        return start_tagged_journal(config, tagged)
    if journal is not None:
        if options.bump or options.prerelease:
            print(f"note: resuming release {journal.version} as planned; --bump and "
                  "--prerelease apply to the next release", file=sys.stderr)
        _confirm(f"resume release {journal.version} at {journal.next_step()}?", options)
        return journal
    with step("plan"):
        plan = steps.plan_release(config, options)
    if plan.next is None:
        print(json.dumps(plan_to_json(plan)) if options.json_output else plan.reason)
        return None
    steps.require_consumer_list(options)
    held = _held(config, plan, options)
    if held is not None:  # before anything is written: a major on merge needs a person
        if options.json_output:
            print(json.dumps({**plan_to_json(plan), "held": held.line(plan.current)}))
        raise onmerge.hold_major(config, held, plan, onmerge.forge_from_env())
    _confirm(f"{describe_plan(plan)}\nrelease {plan.next}?", options)
    return steps.start_journal(config, plan)


def _held(config: Config, plan: VersionPlan, options: steps.ReleaseOptions) -> onmerge.Held | None:
    """Return why an on-merge plan must wait for a person (docs/release.md "The major gate")."""
    if not options.on_merge or not config.confirm_major:
        return None
    return onmerge.held_reasons(plan, bump=options.bump)


def _check_options(options: steps.ReleaseOptions) -> None:
    if (options.cascade or options.tag) and not options.dev:
        raise ToolingError("--cascade and --tag go with --dev (a release always tags and "
                           "cascades); drop them or add --dev")
    if options.dev and (options.prerelease or options.on_merge):
        other = "--prerelease" if options.prerelease else "--on-merge"
        raise ToolingError(f"--dev and {other} do not go together; pick one")


_RACE_ATTEMPTS = 3


def release(options: steps.ReleaseOptions) -> int:
    """Run the release: plan, act, verify; resume an unfinished one where it stopped."""
    _check_options(options)
    if options.on_merge:
        onmerge.forge_from_env()  # where the labels come from, checked before anything runs
    if options.dry_run:
        return dry_run(options)
    _require_prompt(options)
    config = load_config()
    with release_lock(config.root / JOURNAL_DIR), release_temp_dir(config.root / JOURNAL_DIR):
        if options.dev:
            return _release_dev(config, options)
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            try:
                return _release_once(config, options)
            except gitops.RaceLostError as exc:
                # On merge, a push that lost to a newer merge or release starts over from the
                # remote's tip: that run releases what the winner did not include, or nothing.
                if not options.on_merge or attempt == _RACE_ATTEMPTS:
                    raise
                lost = steps.set_aside_unpushed(config)
                aside = f"set release {lost} aside, " if lost else ""
                print(f"note: {exc}; {aside}planning again from the new tip", file=sys.stderr)
    return 0  # pragma: no cover - the loop returns or raises


def _release_once(config: Config, options: steps.ReleaseOptions) -> int:
    if options.on_merge and steps.journal_for(config) is None:
        with step("catch up"):
            if gitops.catch_up(config.root, "origin", config.release_branch):
                config = load_config(config.root)  # the version may have moved with HEAD
    journal = _open_or_start(config, options)  # preflight, then resume, adopt or plan
    if journal is None:
        return 0
    ctx = steps.ReleaseContext(config, journal, options)
    steps.run_step(ctx, Step.BUILD, steps.build)          # wheel + sdist of the new version
    steps.run_step(ctx, Step.SMOKE, steps.smoke)          # fresh venvs, the wheel works
    steps.run_step(ctx, Step.COMMIT, steps.commit)        # pyproject + CHANGELOG.md
    steps.run_step(ctx, Step.TAG, steps.tag)              # annotated tag at that commit
    steps.run_step(ctx, Step.PUSH, steps.push)            # atomic: branch + tag, read back
    steps.run_step(ctx, Step.PUBLISH, steps.publish)      # twine, idempotent by sha256
    steps.run_step(ctx, Step.READ_BACK, steps.read_back_files)  # the index serves our bytes
    steps.run_step(ctx, Step.CASCADE, steps.cascade)      # bump every consumer's pin
    steps.run_step(ctx, Step.CONVERGE, steps.converge)    # read every pin back
    _report(ctx.journal, ctx.timings, options)
    return 0


def _dev_version(config: Config, plan: VersionPlan) -> str:
    """Return the next ``X.Y.Z.devN`` of the planned version free on the index."""
    url = index_url_from_env()
    if not url:
        raise ToolingError("--dev finds the next free .devN on the index: set RUNTIME_INDEX_URL")
    served = read_project(url, config.name).versions()
    return steps.next_dev_version(str(plan.next), sorted(served))


def _release_dev(config: Config, options: steps.ReleaseOptions) -> int:
    """Publish the next ``X.Y.Z.devN``: build, smoke, upload, read back; tag/cascade if asked."""
    unfinished = steps.journal_for(config)
    if unfinished is not None:
        raise ToolingError(f"release {unfinished.version} is unfinished; run `invoke release` "
                           "to finish it (or abandon it, docs/release.md) before a dev release")
    with step("preflight"):
        gitops.preflight(config)
        steps.check_inputs(config, options, dry_run=False)
        if options.cascade:
            steps.require_consumer_list(options)
    with step("plan"):
        plan = steps.plan_release(config, options)
    if plan.next is None:
        raise ToolingError(f"no version to make a dev release of: {plan.reason}")
    version = _dev_version(config, plan)
    _confirm(f"{describe_plan(plan)}\ndev release {version}?", options)
    ctx = steps.ReleaseContext(config, steps.start_dev_journal(config, plan, version), options)
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
    _report(ctx.journal, ctx.timings, options)
    return 0


def _report(journal: Journal, timings: dict[str, float], options: steps.ReleaseOptions) -> None:
    files = journal.result(Step.READ_BACK).get("files")
    if options.json_output:
        report = {
            "version": journal.version, "tag": journal.tag,
            "commit": CommitRecord.load(journal).commit,
            "files": files, "cascade": journal.result(Step.CASCADE).get("consumers"),
            "converge": journal.result(Step.CONVERGE).get("consumers"),
            "seconds": timings, "journal": str(journal.path),
        }
        print(json.dumps(report, indent=2))
        return
    if journal.plan.get("dev") and journal.result("tag").get("skipped"):
        print(f"released {journal.version} (dev release, untagged)")
    else:
        print(f"released {journal.version} as {journal.tag}")
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict):
            print(f"  {entry.get('filename')}  sha256 {entry.get('sha256')}")
    listed = [e for e in files if isinstance(e, dict)] if isinstance(files, list) else []
    append_section(section(f"release {journal.version} ({journal.tag})", markdown_table(
        ("file", "sha256"), [(link(str(e.get("filename")), str(e.get("url") or "")),
                              cell(str(e.get("sha256")))) for e in listed])))


def run_release(
    *,
    dry_run: bool,
    bump: str | None,
    prerelease: str | None,
    yes: bool,
    json_output: bool,
    consumers: str,
    jobs: int | None,
    against: str | None = None,
    baseline_version: str | None = None,
    all_paths: bool = False,
    on_merge: bool = False,
    dev: bool = False,
    cascade: bool = False,
    tag: bool = False,
) -> int:
    """`invoke release`: the whole release, resumable."""

    def work() -> int:
        # Checked before anything runs: an explicit empty value never means "the default".
        options = steps.ReleaseOptions(
            dry_run, refuse_empty("--bump", bump), refuse_empty("--prerelease", prerelease),
            yes, json_output, consumers, jobs,
            against=refuse_empty("--against", against),
            baseline_version=refuse_empty("--baseline-version", baseline_version),
            all_paths=all_paths, on_merge=on_merge, dev=dev, cascade=cascade, tag=tag,
        )
        steps.check_options(options)
        return release(options)

    return guarded(work)


def run_tag(*, json_output: bool) -> int:
    """`invoke tag`: create and push the release tag for pyproject's version at HEAD."""

    def work() -> int:
        config = load_config()
        with step("preflight", quiet=json_output):
            state = gitops.preflight(config, dry_run=True)
        tag = config.tag_for(config.version)
        with step(f"tag {tag}", quiet=json_output):
            made = gitops.create_tag(config.root, tag, state.head,
                                     f"{config.name} {config.version}")
        with step(f"push {tag}", quiet=json_output):
            pushed = gitops.push_release(config.root, state.remote, state.branch, tag,
                                         made.commit)
        if json_output:
            print(json.dumps({"tag": asdict(made), "push": asdict(pushed)}, indent=2))
        else:
            print(f"{tag} at {made.commit[:12]} on {pushed.remote}")
        return 0

    return guarded(work)


def run_publish(*, json_output: bool) -> int:
    """`invoke publish`: upload dist/ for pyproject's version and read every file back."""

    def work() -> int:
        config = load_config()
        files = dist_files(config.root / "dist", config.version)
        with step("publish", quiet=json_output):
            report = publish_files(files)
        with step("read back", quiet=json_output):
            back = read_back(files)
        if json_output:
            print(json.dumps({"publish": asdict(report), "read_back": asdict(back)}, indent=2))
        else:
            for published, verified in zip(report.files, back.files, strict=True):
                print(f"{published.filename}  {published.action}  sha256 {verified.sha256}")
        return 0

    return guarded(work)


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.release``: the same as ``invoke release``."""
    parser = argparse.ArgumentParser(prog="python -m tooling.release", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--bump", help="raise the bump to major, minor or patch")
    parser.add_argument("--prerelease",
                        help="cut a prerelease: a (alias alpha), b (alias beta) or rc")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument("--consumers", default="consumers.toml", help="the consumer list")
    parser.add_argument("--jobs", type=int, help="parallel workers for the cascade")
    parser.add_argument("--against", metavar="REF",
                        help="plan from REF instead of the last release tag (commits and API)")
    parser.add_argument("--baseline-version", metavar="X.Y.Z",
                        help="the version REF released, when its tag does not say")
    parser.add_argument("--all-paths", action="store_true",
                        help="count every commit, not only those that change the runtime")
    parser.add_argument("--on-merge", action="store_true",
                        help="read the merged pull requests' release labels; hold a major")
    parser.add_argument("--dev", action="store_true",
                        help="publish the next X.Y.Z.devN of the planned version")
    parser.add_argument("--cascade", action="store_true", help="with --dev: cascade it too")
    parser.add_argument("--tag", action="store_true", help="with --dev: tag it too")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (or {DEBUG_ENV}=1)")
    args = parser.parse_args(argv)
    if args.debug:
        os.environ[DEBUG_ENV] = "1"
    return run_release(
        dry_run=args.dry_run, bump=args.bump, prerelease=args.prerelease, yes=args.yes,
        json_output=args.json, consumers=args.consumers, jobs=args.jobs,
        against=args.against, baseline_version=args.baseline_version, all_paths=args.all_paths,
        on_merge=args.on_merge, dev=args.dev, cascade=args.cascade, tag=args.tag,
    )


if __name__ == "__main__":
    sys.exit(main())
