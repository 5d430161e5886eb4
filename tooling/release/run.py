"""The release, step by step, and the function and CLI behind ``invoke release``.

``release`` below is the table of contents: one progress line and one stage call per step.
The steps themselves live in ``tooling.release.steps``; what runs before them (preflight,
resume, plan) in ``tooling.release.prepare``; the journal that makes a crashed release resume
where it stopped, and the lock that lets only one run at a time, in
``tooling.release.journal``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from tooling.cli import DEBUG_ENV, guarded, step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release import onmerge, steps
from tooling.release.commands import refuse_empty
from tooling.release.context import ReleaseContext, ReleaseOptions
from tooling.release.dev import release_dev
from tooling.release.gitcore import RaceLostError
from tooling.release.inputs import check_options
from tooling.release.journal import JOURNAL_DIR, Step, release_lock, release_temp_dir
from tooling.release.planning import journal_for, set_aside_unpushed
from tooling.release.prepare import dry_run, open_or_start
from tooling.release.report import report_release
from tooling.release.tagpush import catch_up

if TYPE_CHECKING:
    from tooling.config import Config

__all__ = [
    "main",
    "release",
    "run_release",
]


def _require_prompt(options: ReleaseOptions) -> None:
    # Decided before anything runs, so CI without --yes fails at once and changes nothing.
    if not options.yes and not options.dry_run and not sys.stdin.isatty():
        raise ToolingError("no terminal to confirm the release on; pass --yes (CI does)")


def _check_options(options: ReleaseOptions) -> None:
    if (options.cascade or options.tag) and not options.dev:
        raise ToolingError("--cascade and --tag go with --dev (a release always tags and "
                           "cascades); drop them or add --dev")
    if options.dev and (options.prerelease or options.on_merge):
        other = "--prerelease" if options.prerelease else "--on-merge"
        raise ToolingError(f"--dev and {other} do not go together; pick one")


_RACE_ATTEMPTS = 3


def release(options: ReleaseOptions) -> int:
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
            return release_dev(config, options)
        for attempt in range(1, _RACE_ATTEMPTS + 1):
            try:
                return _release_once(config, options)
            except RaceLostError as exc:
                # On merge, a push that lost to a newer merge or release starts over from the
                # remote's tip: that run releases what the winner did not include, or nothing.
                if not options.on_merge or attempt == _RACE_ATTEMPTS:
                    raise
                lost = set_aside_unpushed(config)
                aside = f"set release {lost} aside, " if lost else ""
                print(f"note: {exc}; {aside}planning again from the new tip", file=sys.stderr)
    return 0  # pragma: no cover - the loop returns or raises


def _release_once(config: Config, options: ReleaseOptions) -> int:
    if options.on_merge and journal_for(config) is None:
        with step("catch up"):
            if catch_up(config.root, "origin", config.release_branch):
                config = load_config(config.root)  # the version may have moved with HEAD
    journal = open_or_start(config, options)  # preflight, then resume, adopt or plan
    if journal is None:
        return 0
    ctx = ReleaseContext(config, journal, options)
    steps.run_step(ctx, Step.BUILD, steps.build)          # wheel + sdist of the new version
    steps.run_step(ctx, Step.SMOKE, steps.smoke)          # fresh venvs, the wheel works
    steps.run_step(ctx, Step.COMMIT, steps.commit)        # pyproject + CHANGELOG.md
    steps.run_step(ctx, Step.TAG, steps.tag)              # annotated tag at that commit
    steps.run_step(ctx, Step.PUSH, steps.push)            # atomic: branch + tag, read back
    steps.run_step(ctx, Step.PUBLISH, steps.publish)      # twine, idempotent by sha256
    steps.run_step(ctx, Step.READ_BACK, steps.read_back_files)  # the index serves our bytes
    steps.run_step(ctx, Step.CASCADE, steps.cascade)      # bump every consumer's pin
    steps.run_step(ctx, Step.CONVERGE, steps.converge)    # read every pin back
    report_release(ctx.journal, ctx.timings, options)
    return 0


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
        options = ReleaseOptions(
            dry_run, refuse_empty("--bump", bump), refuse_empty("--prerelease", prerelease),
            yes, json_output, consumers, jobs,
            against=refuse_empty("--against", against),
            baseline_version=refuse_empty("--baseline-version", baseline_version),
            all_paths=all_paths, on_merge=on_merge, dev=dev, cascade=cascade, tag=tag,
        )
        check_options(options)
        return release(options)

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
