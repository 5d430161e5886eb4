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
from tooling.release import repo as gitops
from tooling.release import steps
from tooling.release.journal import (
    JOURNAL_DIR,
    Journal,
    Step,
    release_lock,
    release_temp_dir,
)
from tooling.release.records import CommitRecord
from tooling.release.tagged import (
    describe_tagged,
    find_tagged_release,
    finished_here,
    start_tagged_journal,
)
from tooling.release.upload import dist_files, publish_files, read_back
from tooling.secrets import redact
from tooling.versioning.plan import describe_plan, plan_to_json

if TYPE_CHECKING:
    from tooling.config import Config

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
                json_output: bool) -> int:
    from tooling.cascade import cli as cascade  # noqa: PLC0415 - each task loads only its stage

    def work() -> int:
        argv = [command, *(a for f, v in flags for a in _opt(f, v)), "--consumers", consumers]
        return cascade.main([*argv, *(["--json"] if json_output else [])])

    return guarded(work)


def run_cascade(*, version: str | None, consumers: str, jobs: int | None, json_output: bool) -> int:
    """`invoke cascade`: bump every non-exempt consumer's pin."""
    return _stage_main("cascade", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output)


def run_converge(
    *, version: str | None, consumers: str, jobs: int | None, json_output: bool
) -> int:
    """`invoke converge`: read back every consumer's pin."""
    return _stage_main("converge", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output)


def run_drift(*, org: str | None, consumers: str, jobs: int | None, json_output: bool) -> int:
    """`invoke drift`: consumers whose pin lags the index."""
    return _stage_main("drift", [("--org", org), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output)


def run_versions(*, json_output: bool) -> int:
    """`invoke versions`: every place a version lives."""
    from tooling.release import survey as versions  # noqa: PLC0415

    return versions.main(["--json"] if json_output else [])


def run_compat(*, check: str | None, json_output: bool) -> int:
    """`invoke compat`: this build's compat.json, or a consumer's needs checked against it."""
    from tooling.api import compat  # noqa: PLC0415

    return guarded(lambda: compat.main([*_opt("--check", check),
                                        *(["--json"] if json_output else [])]))


def run_workflows(*, check: bool) -> int:
    """`invoke workflows`: generate (or check) the CI workflow files."""
    from tooling.ci import workflows  # noqa: PLC0415

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
    if options.json_output:
        report = plan_to_json(plan)
        report["resume"] = unfinished.next_step() if unfinished else None
        print(json.dumps(report, indent=2))
    else:
        print(describe_plan(plan))
        if unfinished is not None:
            print(f"unfinished release {unfinished.version}: a real run resumes it at "
                  f"{unfinished.next_step()}")
    return 0


def _open_or_start(config: Config, options: steps.ReleaseOptions) -> Journal | None:
    """Run preflight and return the journal to run: resumed, adopted from a tag, or planned.

    None when there is nothing to release (already said so).
    """
    journal = steps.open_journal(config)
    # HEAD at the release tag of pyproject's version (CI on a tag push): release it as is.
    tagged = find_tagged_release(config) if journal is None else None
    if tagged is not None and finished_here(config, tagged):
        reason = f"nothing to release: {tagged.tag} at HEAD was released from this checkout"
        print(json.dumps({"release": False, "next": None, "tag": tagged.tag,
                          "reason": reason}) if options.json_output else reason)
        return None
    tag = tagged.tag if tagged else None
    if journal is not None and journal.plan.get("adopted"):
        tag = journal.tag  # a resumed tagged release keeps its preflight (HEAD may be detached)
    with step("preflight"):
        gitops.preflight(config, allow_dirty=steps.pending_files(journal, config),
                         pushed=journal is not None and journal.is_done(Step.PUSH), tagged=tag)
        steps.check_inputs(config, options, dry_run=False)
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
    _confirm(f"{describe_plan(plan)}\nrelease {plan.next}?", options)
    return steps.start_journal(config, plan)


def release(options: steps.ReleaseOptions) -> int:
    """Run the release: plan, act, verify; resume an unfinished one where it stopped."""
    if options.dry_run:
        return dry_run(options)
    _require_prompt(options)
    config = load_config()
    with release_lock(config.root / JOURNAL_DIR), release_temp_dir(config.root / JOURNAL_DIR):
        journal = _open_or_start(config, options)  # preflight, then resume, adopt or plan
        if journal is None:
            return 0
        ctx = steps.ReleaseContext(config, journal, options)
        steps.run_step(ctx, Step.BUILD, steps.build)        # wheel + sdist of the new version
        steps.run_step(ctx, Step.SMOKE, steps.smoke)        # fresh venvs, the wheel works
        steps.run_step(ctx, Step.COMMIT, steps.commit)      # pyproject + CHANGELOG.md
        steps.run_step(ctx, Step.TAG, steps.tag)            # annotated tag at that commit
        steps.run_step(ctx, Step.PUSH, steps.push)          # atomic: branch + tag, read back
        steps.run_step(ctx, Step.PUBLISH, steps.publish)    # twine, idempotent by sha256
        steps.run_step(ctx, Step.READ_BACK, steps.read_back_files)  # the index serves our bytes
        steps.run_step(ctx, Step.CASCADE, steps.cascade)    # bump every consumer's pin
        steps.run_step(ctx, Step.CONVERGE, steps.converge)  # read every pin back
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
        print(redact(json.dumps(report, indent=2)))
        return
    print(f"released {journal.version} as {journal.tag}")
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict):
            print(f"  {entry.get('filename')}  sha256 {entry.get('sha256')}")


def run_release(
    *,
    dry_run: bool,
    bump: str | None,
    prerelease: str | None,
    yes: bool,
    json_output: bool,
    consumers: str,
    jobs: int | None,
) -> int:
    """`invoke release`: the whole release, resumable."""

    def work() -> int:
        # Checked before anything runs: an explicit empty value never means "the default".
        options = steps.ReleaseOptions(
            dry_run, refuse_empty("--bump", bump), refuse_empty("--prerelease", prerelease),
            yes, json_output, consumers, jobs,
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
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (or {DEBUG_ENV}=1)")
    args = parser.parse_args(argv)
    if args.debug:
        os.environ[DEBUG_ENV] = "1"
    return run_release(
        dry_run=args.dry_run, bump=args.bump, prerelease=args.prerelease, yes=args.yes,
        json_output=args.json, consumers=args.consumers, jobs=args.jobs,
    )


if __name__ == "__main__":
    sys.exit(main())
