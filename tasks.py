"""Release work as invoke tasks.

Each task turns its flags into arguments for one tooling.release.run function; no git, parsing or
HTTP lives here.  A value flag defaults to None, "not given": only that gets the default, while an
explicit empty value (``--version ''``, an unset CI variable) is refused by the function.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling.cli import DEBUG_ENV
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


@task(
    help={
        "dry_run": "print the plan and change nothing",
        "bump": "raise the bump to major, minor or patch (never lowers it)",
        "prerelease": "cut a prerelease of this kind: a (alias alpha), b (beta) or rc",
        "yes": "do not ask for confirmation",
        **_COMMON,
    }
)
def release(  # noqa: PLR0917 - invoke maps each positional parameter to a flag
    c: Context,
    dry_run: bool = False,
    bump: str | None = None,
    prerelease: str | None = None,
    yes: bool = False,
    json: bool = False,
    consumers: str = "consumers.toml",
    jobs: int = 0,
    debug: bool = False,
) -> None:
    """Cut the next release: version, build, smoke, tag, publish, read back, cascade, converge."""
    del c
    _debug(debug)
    _finish(
        _release.run_release(
            dry_run=dry_run, bump=bump, prerelease=prerelease, yes=yes,
            json_output=json, consumers=consumers, jobs=jobs or None,
        )
    )


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def tag(c: Context, json: bool = False, debug: bool = False) -> None:
    """Create and push the annotated release tag for the version in pyproject.toml."""
    del c
    _debug(debug)
    _finish(_release.run_tag(json_output=json))


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def publish(c: Context, json: bool = False, debug: bool = False) -> None:
    """Upload dist/ with twine (idempotent by sha256) and read every file back from the index."""
    del c
    _debug(debug)
    _finish(_release.run_publish(json_output=json))


@task(help={"version": "the version to pin (default: pyproject's)", **_COMMON})
def cascade(  # noqa: PLR0917 - invoke maps each positional parameter to a flag
    c: Context, version: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, debug: bool = False,
) -> None:
    """Bump the runtime pin in every non-exempt consumer repository."""
    del c
    _debug(debug)
    _finish(_release.run_cascade(version=version, consumers=consumers, jobs=jobs or None,
                                 json_output=json))


@task(help={"version": "the version every pin must show (default: pyproject's)", **_COMMON})
def converge(  # noqa: PLR0917 - invoke maps each positional parameter to a flag
    c: Context, version: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, debug: bool = False,
) -> None:
    """Read back every cascaded consumer's pin and fail on any divergence."""
    del c
    _debug(debug)
    _finish(_release.run_converge(version=version, consumers=consumers,
                                  jobs=jobs or None, json_output=json))


@task(help={"org": "also list the org's pinned repositories missing from the list", **_COMMON})
def drift(  # noqa: PLR0917 - invoke maps each positional parameter to a flag
    c: Context, org: str | None = None, consumers: str = "consumers.toml", jobs: int = 0,
    json: bool = False, debug: bool = False,
) -> None:
    """Report consumers whose pin lags the latest version on the index."""
    del c
    _debug(debug)
    _finish(_release.run_drift(org=org, consumers=consumers, jobs=jobs or None,
                               json_output=json))


@task(help={"json": _COMMON["json"], "debug": _DEBUG})
def versions(c: Context, json: bool = False, debug: bool = False) -> None:
    """Show every place a version lives; fail when the project's own sources disagree."""
    del c
    _debug(debug)
    _finish(_release.run_versions(json_output=json))


@task(help={"check": "a consumer checkout whose declared needs to check", "json": _COMMON["json"],
            "debug": _DEBUG})
def compat(c: Context, check: str | None = None, json: bool = False, debug: bool = False) -> None:
    """Print this build's compat.json, or check a consumer's declared needs against it."""
    del c
    _debug(debug)
    _finish(_release.run_compat(check=check, json_output=json))


@task(help={"check": "fail if the generated workflow files are stale instead of writing them",
            "debug": _DEBUG})
def workflows(c: Context, check: bool = False, debug: bool = False) -> None:
    """Write the CI workflows for GitHub and Gitea from their one definition."""
    del c
    _debug(debug)
    _finish(_release.run_workflows(check=check))


ns = Collection(release, tag, publish, cascade, converge, drift, versions, compat, workflows)
