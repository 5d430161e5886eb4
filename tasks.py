"""Release work as invoke tasks.

Each task turns its flags into arguments for one function of tooling.release.run (release) or
tooling.release.commands (the others); no git, parsing or HTTP lives here.  A value flag
defaults to None, "not given": only that gets the default, while an explicit empty value
(``--version ''``, an unset CI variable) is refused by the function.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling.cli import DEBUG_ENV
from tooling.release import adopt as _adopt
from tooling.release import commands as _commands
from tooling.release import run as _release

if TYPE_CHECKING:
    from invoke.context import Context


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


def _debug(debug: bool) -> None:
    # Read by tooling.cli.guarded: an unexpected error then shows its traceback.
    if debug:
        os.environ[DEBUG_ENV] = "1"


_DEBUG = "show the traceback of an unexpected error (or set TOOLING_DEBUG=1)"
_COMMON = {
    "debug": _DEBUG,
    "json": "print a machine-readable report on stdout",
    "consumers": "path to the consumer list (default: consumers.toml)",
    "jobs": "parallel workers (default: one per consumer, at most 16)",
}
_HELD = "exit 0 rather than 3 when consumers are held (a declared need unmet)"


@task(
    help={
        "dry_run": "print the plan and change nothing",
        "bump": "raise the bump to major, minor or patch (never lowers it)",
        "prerelease": "cut a prerelease of this kind: a (alias alpha), b (beta) or rc",
        "yes": "do not ask for confirmation",
        "against": "plan from this ref instead of the last release tag (commits and API diff)",
        "baseline_version": "the version that ref released, when its tag does not say",
        "all_paths": "count every commit, not only those that change the runtime",
        "on_merge": "as the release workflow on a merge: read the merged pull requests' "
                    "release:* labels; hold a major nobody confirmed (exit 3)",
        "dev": "publish the next X.Y.Z.devN of the planned version (no commit, no changelog)",
        "cascade": "with --dev: cascade the dev release to the consumers",
        "tag": "with --dev: tag the dev release and push the tag",
        **_COMMON,
    }
)
def release(
    c: Context,
    dry_run: bool = False,
    bump: str | None = None,
    prerelease: str | None = None,
    yes: bool = False,
    json: bool = False,
    consumers: str = "consumers.toml",
    jobs: int = 0,
    against: str | None = None,
    baseline_version: str | None = None,
    all_paths: bool = False,
    on_merge: bool = False,
    dev: bool = False,
    cascade: bool = False,
    tag: bool = False,
    debug: bool = False,
) -> None:
    """Cut the next release: version, build, smoke, tag, publish, read back, cascade, converge."""
    del c
    _debug(debug)
    _finish(
        _release.run_release(
            dry_run=dry_run, bump=bump, prerelease=prerelease, yes=yes,
            json_output=json, consumers=consumers, jobs=jobs or None, against=against,
            baseline_version=baseline_version, all_paths=all_paths, on_merge=on_merge,
            dev=dev, cascade=cascade, tag=tag,
        )
    )


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def tag(c: Context, json: bool = False, debug: bool = False) -> None:
    """Create and push the annotated release tag for the version in pyproject.toml."""
    del c
    _debug(debug)
    _finish(_commands.run_tag(json_output=json))


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def publish(c: Context, json: bool = False, debug: bool = False) -> None:
    """Upload dist/ with twine (idempotent by sha256) and read every file back from the index."""
    del c
    _debug(debug)
    _finish(_commands.run_publish(json_output=json))


@task(help={"version": "the version to pin (default: pyproject's)", "allow_held": _HELD,
            **_COMMON})
def cascade(
    c: Context, version: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, allow_held: bool = False, debug: bool = False,
) -> None:
    """Bump the runtime pin in every non-exempt consumer repository."""
    del c
    _debug(debug)
    _finish(_commands.run_cascade(version=version, consumers=consumers, jobs=jobs or None,
                                 json_output=json, allow_held=allow_held))


@task(help={"version": "the version every pin must show (default: pyproject's)",
            "allow_held": _HELD, **_COMMON})
def converge(
    c: Context, version: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, allow_held: bool = False, debug: bool = False,
) -> None:
    """Read back every cascaded consumer's pin and fail on any divergence."""
    del c
    _debug(debug)
    _finish(_commands.run_converge(version=version, consumers=consumers,
                                  jobs=jobs or None, json_output=json, allow_held=allow_held))


@task(
    help={
        "org": "also list the org's pinned repositories missing from the list",
        "fix": "cascade the lagging consumers to the latest release, then converge them",
        "max": "with --fix: heal at most N consumers this run (default: all)",
        "allow_held": _HELD,
        **_COMMON,
    }
)
def drift(
    c: Context, org: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, fix: bool = False, max: int = 0,
    allow_held: bool = False, debug: bool = False,
) -> None:
    """Report consumers whose pin lags the latest version on the index (--fix heals them)."""
    del c
    _debug(debug)
    _finish(_commands.run_drift(org=org, consumers=consumers, jobs=jobs or None,
                               json_output=json, fix=fix, max_count=max or None,
                               allow_held=allow_held))


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def versions(c: Context, json: bool = False, debug: bool = False) -> None:
    """Show every place a version lives; fail when the project's own sources disagree."""
    del c
    _debug(debug)
    _finish(_commands.run_versions(json_output=json))


@task(help={"check": "a consumer checkout whose declared needs to check", "json": _COMMON["json"],
            "debug": _DEBUG})
def compat(c: Context, check: str | None = None, json: bool = False, debug: bool = False) -> None:
    """Print this build's compat.json, or check a consumer's declared needs against it."""
    del c
    _debug(debug)
    _finish(_commands.run_compat(check=check, json_output=json))


@task(help={"check": "fail if the generated workflow files are stale instead of writing them",
            "debug": _DEBUG})
def workflows(c: Context, check: bool = False, debug: bool = False) -> None:
    """Write the CI workflows for GitHub and Gitea from their one definition."""
    del c
    _debug(debug)
    _finish(_commands.run_workflows(check=check))


@task(
    help={
        "source": "the folder of bare modules, from the root (default: workspace)",
        "package": "the import package it becomes (default: molecule_runtime)",
        "distribution": "the distribution name users install (default: [project] name)",
        "tag_prefix": "release tags are this plus the version (default: runtime-v)",
        "release_branch": "the branch releases are cut from (default: main)",
        "workflow_prefix": "file-name prefix of the generated workflows (default: runtime-)",
        "gitea_version": "the oldest Gitea the .gitea/ workflows must work on, e.g. 1.22",
        "dry_run": "show the diff and write nothing",
    }
)
def init(
    c: Context,
    source: str | None = None,
    package: str | None = None,
    distribution: str | None = None,
    tag_prefix: str | None = None,
    release_branch: str | None = None,
    workflow_prefix: str | None = None,
    gitea_version: str | None = None,
    dry_run: bool = False,
    debug: bool = False,
) -> None:
    """Adopt the pipeline here: pyproject tables, .gitignore, workflows; a second run is a no-op."""
    del c
    _debug(debug)
    flags = {"--source": source, "--package": package, "--distribution": distribution,
             "--tag-prefix": tag_prefix, "--release-branch": release_branch,
             "--workflow-prefix": workflow_prefix, "--gitea-version": gitea_version}
    # An explicit empty value goes through, so the command refuses it rather than defaulting.
    argv = [part for flag, value in flags.items() if value is not None for part in (flag, value)]
    _finish(_adopt.main([*argv, *(["--dry-run"] if dry_run else [])]))


ns = Collection(release, tag, publish, cascade, converge, drift, versions, compat, workflows,
                init)
