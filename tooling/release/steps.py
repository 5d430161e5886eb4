"""The body of each release step, and the runner that journals them.

``tooling.release.run`` lists the steps; this module does them.  Each step function takes the
``ReleaseContext`` and returns what it produced as JSON-able values, which the runner writes
into the journal.  Every step first looks at the world (the tag, the remote, the index, the
consumers) so that running it again after a crash finishes the work instead of repeating it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.build.dists import build_distributions
from tooling.cascade.consumers import load_consumers
from tooling.cascade.converge import converge_all
from tooling.cascade.engine import cascade_all
from tooling.cli import step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.release.context import journal_text
from tooling.release.gitcore import head_commit
from tooling.release.journal import JsonValue, Step
from tooling.release.readback import ReadBackReport, read_back
from tooling.release.records import (
    BuildRecord,
    BuiltFile,
    CommitRecord,
    ConsumersRecord,
    SmokeRecord,
    to_json,
)
from tooling.release.tagged import build_epoch, from_index
from tooling.release.tagpush import create_tag, push_release, tag_message
from tooling.release.upload import PublishReport, publish_files
from tooling.release.versioncommit import (
    commit_files,
    find_release_commit,
    release_message,
    set_project_version,
    version_files,
    write_version_files,
)
from tooling.release.worktree import scratch_worktree
from tooling.smoke.pythons import PYTHONS_ENV, find_pythons, parse_restriction
from tooling.smoke.run import run_smoke
from tooling.smoke.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from tooling.config import Config
    from tooling.release.context import ReleaseContext
    from tooling.release.tagpush import PushResult, TagResult

__all__ = [
    "build",
    "cascade",
    "commit",
    "converge",
    "publish",
    "push",
    "read_back_files",
    "run_step",
    "skip_step",
    "smoke",
    "tag",
]


# -- the journal around each step -----------------------------------------------------------


def run_step(ctx: ReleaseContext, name: Step, action: Callable[[ReleaseContext], object]) -> None:
    """Run one step unless the journal has it done: intent first, its record after it verified.

    ``action`` returns the step's record, a dataclass (``tooling.release.records``).
    """
    if ctx.journal.is_done(name):
        print(f"--- {name}: done in an earlier run", file=sys.stderr, flush=True)
        return
    start = time.perf_counter()
    with step(name):
        ctx.journal.begin(name, _intent(ctx, name))
        record = action(ctx)
        ctx.journal.finish(name, to_json(record))
    ctx.timings[name] = round(time.perf_counter() - start, 3)


def _intent(ctx: ReleaseContext, name: Step) -> dict[str, JsonValue]:
    """Return what step ``name`` is about to do, as far as it is known before it acts."""
    plan, journal = ctx.journal.plan, ctx.journal
    made = CommitRecord.load(journal).commit if journal.is_done(Step.COMMIT) else None
    if name is Step.COMMIT:
        return {"base": plan.get("base"), "message": release_message(ctx.version)}
    if name in {Step.TAG, Step.PUSH}:
        return {"tag": journal.tag, "commit": made, "branch": ctx.config.release_branch}
    if name in {Step.PUBLISH, Step.READ_BACK}:
        return {"files": journal.result(Step.BUILD).get("files")}
    if name in {Step.CASCADE, Step.CONVERGE}:
        return {"version": ctx.version, "consumers": ctx.options.consumers}
    return {"version": ctx.version}


def skip_step(ctx: ReleaseContext, name: Step, why: str) -> None:
    """Record ``name`` done without acting (a dev release skips the tag or the cascade)."""
    if ctx.journal.is_done(name):
        return
    print(f"--- {name}: skipped ({why})", file=sys.stderr, flush=True)
    ctx.journal.begin(name)
    ctx.journal.finish(name, {"skipped": why})


# -- build and smoke ------------------------------------------------------------------------


@contextlib.contextmanager
def _build_tree(ctx: ReleaseContext) -> Iterator[Config]:
    """Yield the configuration of a scratch worktree at the plan's base, at the new version.

    Building there keeps the user's tree untouched until the version commit, and the tree
    built is exactly the tree that commit will hold.
    """
    base = journal_text(ctx.journal.plan, "base", str(ctx.journal.path))
    tree = ctx.work_dir / "worktree"
    with scratch_worktree(ctx.config.root, base, tree), build_epoch(ctx.journal.plan):
        set_project_version(tree / "pyproject.toml", ctx.version)
        yield load_config(tree)


def _dist_dir(ctx: ReleaseContext) -> Path:
    return ctx.work_dir / "dist"


def _built_files(ctx: ReleaseContext) -> tuple[Path, ...]:
    """Return the built files the journal recorded, each checked against its recorded sha256."""
    paths = []
    for built in BuildRecord.load(ctx.journal).files:
        path = _dist_dir(ctx) / built.filename
        if not path.is_file() or sha256_of(path) != built.sha256:
            raise ToolingError(
                f"{path}: missing or changed since the build step; the release publishes only "
                "what it built and smoke-tested: restore it or abandon the release"
            )
        paths.append(path)
    return tuple(paths)


def _build_distributions(config: Config, dist: Path) -> tuple[Path, ...]:
    """Build wheel + sdist of ``config`` into ``dist``, checked (twine, contents, rebuild)."""
    result = build_distributions(config, dist=dist, quiet=True)
    return tuple(f.path for f in result.files)


def build(ctx: ReleaseContext) -> BuildRecord:
    """Build the wheel and sdist of the new version into ``.release/<version>/dist``."""
    dist = _dist_dir(ctx)
    shutil.rmtree(dist, ignore_errors=True)
    if ctx.journal.plan.get("adopted"):
        # A tagged release the index already serves (a local release published it): take
        # its files as they are, never a rebuild that could differ byte for byte.
        served = from_index(ctx.config, ctx.version, dist)
        if served is not None:
            return BuildRecord(_built(served), source="index")
    with _build_tree(ctx) as config:
        files = _build_distributions(config, dist)
    return BuildRecord(_built(files))


def _built(paths: Sequence[Path]) -> tuple[BuiltFile, ...]:
    return tuple(BuiltFile(p.name, sha256_of(p)) for p in paths)


def _run_smoke(config: Config, wheel: Path) -> str:
    """Smoke-test ``wheel`` in fresh venvs on every Python (or ``$RUNTIME_SMOKE_PYTHONS``)."""
    settings = load_settings(config)
    restrict = parse_restriction([os.environ.get(PYTHONS_ENV, "")]) or settings.pythons
    pythons = find_pythons(restrict)
    report = run_smoke(config, wheel.parent, pythons, settings=settings)
    if not report.ok:
        more = f" (and {len(report.failures) - 1} more)" if len(report.failures) > 1 else ""
        raise ToolingError(
            f"smoke failed: {report.failures[0] if report.failures else 'see above'}{more}; "
            "fix it and run the release again (nothing was committed, tagged or uploaded)"
        )
    return f"ok on {', '.join(p.version for p in pythons)}"


def smoke(ctx: ReleaseContext) -> SmokeRecord:
    """Install the built wheel in fresh venvs and prove it works, before anything is pushed."""
    wheel = next(p for p in _built_files(ctx) if p.name.endswith(".whl"))
    if BuildRecord.load(ctx.journal).source == "index":
        return SmokeRecord(wheel.name, "skipped: already published on the index")
    with _build_tree(ctx) as config:
        summary = _run_smoke(config, wheel)
    return SmokeRecord(wheel.name, summary)


# -- git ------------------------------------------------------------------------------------


def commit(ctx: ReleaseContext) -> CommitRecord:
    """Commit the new version in pyproject.toml and its CHANGELOG.md section."""
    root = ctx.config.root
    base = journal_text(ctx.journal.plan, "base", str(ctx.journal.path))
    message = release_message(ctx.version)
    made = find_release_commit(root, base, message)
    if made is None:
        head = head_commit(root)
        if head != base:
            raise ToolingError(
                f"HEAD is {head[:12]}, not {base[:12]} where release {ctx.version} was planned; "
                "reset to it or abandon the release (docs/release.md)"
            )
        section = journal_text(ctx.journal.plan, "changelog", str(ctx.journal.path))
        write_version_files(ctx.config, ctx.version, section)
        run_id = ctx.journal.plan.get("release_id")
        body = f"{message}\n\nRelease-Run: {run_id}" if isinstance(run_id, str) else message
        made = commit_files(root, version_files(ctx.config), body)
    return CommitRecord(made, base, message)


def _release_commit(ctx: ReleaseContext) -> str:
    return CommitRecord.load(ctx.journal).commit


def tag(ctx: ReleaseContext) -> TagResult:
    """Create the annotated release tag at the version commit."""
    release_id = ctx.journal.plan.get("release_id")
    message = tag_message(f"{ctx.config.name} {ctx.version}",
                                 release_id if isinstance(release_id, str) else None)
    return create_tag(ctx.config.root, ctx.journal.tag, _release_commit(ctx), message)


def push(ctx: ReleaseContext) -> PushResult:
    """Push the version commit and the tag atomically, then read the tag back from the remote."""
    return push_release(
        ctx.config.root, "origin", ctx.config.release_branch, ctx.journal.tag,
        _release_commit(ctx),
    )


# -- index ----------------------------------------------------------------------------------


def publish(ctx: ReleaseContext) -> PublishReport:
    """Upload the built files with twine unless the index already has them byte for byte."""
    return publish_files(_built_files(ctx))


def read_back_files(ctx: ReleaseContext) -> ReadBackReport:
    """Download every file from the index and compare its sha256 with the built one."""
    return read_back(_built_files(ctx))


# -- consumers ------------------------------------------------------------------------------


def cascade(ctx: ReleaseContext) -> ConsumersRecord:
    """Bump the pin in every non-exempt consumer repository; consumers already at it are kept."""
    consumers = load_consumers(Path(ctx.options.consumers))
    report = cascade_all(consumers, ctx.version, jobs=ctx.options.jobs)
    if not report.ok:
        named = ", ".join(f"{r.consumer} ({r.reason})" for r in report.failed)
        raise ToolingError(
            f"cascade failed for {named}; fix them and run the release again: it resumes at "
            "the cascade, and consumers already at the version are left as they are"
        )
    if report.credentials_missing:
        print(f"warning: CASCADE_TOKEN not set; skipped {', '.join(report.credentials_missing)}",
              file=sys.stderr)
    return ConsumersRecord(tuple(report.rows))


def converge(ctx: ReleaseContext) -> ConsumersRecord:
    """Read back every cascaded consumer's pin and fail on any divergence."""
    consumers = load_consumers(Path(ctx.options.consumers))
    report = converge_all(consumers, ctx.version, jobs=ctx.options.jobs)
    if not report.ok:
        named = ", ".join(f"{r.consumer} (got {r.got}, {r.reason})" for r in report.failed)
        raise ToolingError(f"consumers diverge from {ctx.version}: {named}; run the release again")
    return ConsumersRecord(tuple(report.rows))
