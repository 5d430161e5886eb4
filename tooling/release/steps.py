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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.api.diff import api_floor
from tooling.build.dists import build_distributions
from tooling.cascade.consumers import load_consumers
from tooling.cascade.converge import converge_all
from tooling.cascade.engine import cascade_all
from tooling.cli import step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import sha256_of, write_atomic
from tooling.index import index_url_from_env, parse_http_url
from tooling.release import onmerge
from tooling.release import repo as gitops
from tooling.release.journal import (
    JOURNAL_DIR,
    Journal,
    JsonValue,
    Step,
    crash_if_asked,
    find_unfinished,
)
from tooling.release.records import (
    BuildRecord,
    BuiltFile,
    CommitRecord,
    ConsumersRecord,
    PlanRecord,
    SmokeRecord,
    to_json,
)
from tooling.release.tagged import build_epoch, from_index
from tooling.release.upload import PublishReport, ReadBackReport, publish_files, read_back
from tooling.smoke.pythons import PYTHONS_ENV, find_pythons, parse_restriction
from tooling.smoke.run import load_settings, run_smoke
from tooling.version import parse_bump, parse_prerelease
from tooling.versioning.changelog import insert_section, release_date, render_section
from tooling.versioning.history import last_release_tag
from tooling.versioning.plan import plan_from_repo, plan_to_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from tooling.config import Config
    from tooling.version import Bump
    from tooling.versioning.plan import VersionPlan

__all__ = [
    "DEV_DIR",
    "ReleaseContext",
    "ReleaseOptions",
    "build",
    "cascade",
    "check_inputs",
    "check_options",
    "commit",
    "converge",
    "journal_for",
    "next_dev_version",
    "open_journal",
    "pending_files",
    "plan_release",
    "publish",
    "push",
    "read_back_files",
    "run_step",
    "set_aside_unpushed",
    "skip_step",
    "smoke",
    "start_dev_journal",
    "start_journal",
    "tag",
    "write_version_files",
]

_CASCADE_TOKEN = "CASCADE_TOKEN"


@dataclass(frozen=True)
class ReleaseOptions:
    """What the user asked for on the command line."""

    dry_run: bool
    """Print the plan and change nothing."""
    bump: str | None
    """``--bump``: raise the bump (never lower it)."""
    prerelease: str | None
    """``--prerelease``: a, b or rc."""
    yes: bool
    """Do not ask for confirmation."""
    json_output: bool
    """Print a machine-readable report on stdout."""
    consumers: str
    """The consumer list."""
    jobs: int | None
    """Parallel workers for the cascade."""
    against: str | None = None
    """``--against``: plan from this ref instead of the last release tag (commits and API)."""
    baseline_version: str | None = None
    """``--baseline-version``: the version the bump applies to, when the old tag cannot say."""
    all_paths: bool = False
    """``--all-paths``: count every commit, not only those that change the runtime."""
    on_merge: bool = False
    """``--on-merge``: read the merged pull requests' labels; hold an unconfirmed major."""
    dev: bool = False
    """``--dev``: publish the next ``X.Y.Z.devN`` of the planned version, no version commit."""
    cascade: bool = False
    """``--cascade`` (with ``--dev``): cascade the dev release to the consumers too."""
    tag: bool = False
    """``--tag`` (with ``--dev``): tag the dev release at HEAD and push the tag."""


@dataclass
class ReleaseContext:
    """One release run: the project, its journal and the options (mutable: it accumulates)."""

    config: Config
    """The project's configuration, read at the start."""
    journal: Journal
    """The release's journal."""
    options: ReleaseOptions
    """The command-line options."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each step took in this run (absent: done in an earlier run)."""

    @property
    def version(self) -> str:
        """Return the version being released."""
        return self.journal.version

    @property
    def work_dir(self) -> Path:
        """Return ``.release/<version>/``: the built files and the build worktree."""
        return self.config.root / JOURNAL_DIR / self.version


def _text(values: dict[str, JsonValue], key: str, where: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise ToolingError(f"{where}: {key!r} missing from the release journal")
    return value


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
        return {"base": plan.get("base"), "message": gitops.release_message(ctx.version)}
    if name in {Step.TAG, Step.PUSH}:
        return {"tag": journal.tag, "commit": made, "branch": ctx.config.release_branch}
    if name in {Step.PUBLISH, Step.READ_BACK}:
        return {"files": journal.result(Step.BUILD).get("files")}
    if name in {Step.CASCADE, Step.CONVERGE}:
        return {"version": ctx.version, "consumers": ctx.options.consumers}
    return {"version": ctx.version}


def _changelog(config: Config) -> Path:
    return config.changelog or config.root / "CHANGELOG.md"


def _commit_files(config: Config) -> tuple[str, ...]:
    """The files the version commit writes, relative to the root."""
    changelog = _changelog(config)
    if not changelog.is_relative_to(config.root):
        raise ToolingError(f"[tool.runtime-build] changelog: {changelog} is outside the "
                           f"repository {config.root}; give a path inside it")
    return ("pyproject.toml", changelog.relative_to(config.root).as_posix())


def pending_files(journal: Journal | None, config: Config | None = None) -> tuple[str, ...]:
    """Return the files a crashed version commit may have left modified (preflight allows them)."""
    if journal is not None and journal.was_started(Step.COMMIT):
        return _commit_files(config) if config is not None else ("pyproject.toml",
                                                                  "CHANGELOG.md")
    return ()


# -- inputs, all checked before the first side effect ----------------------------------------


def check_options(options: ReleaseOptions) -> None:
    """Refuse a malformed option before anything runs (each names the option and value)."""
    if options.bump is not None:
        parse_bump(options.bump, where="--bump")
    parse_prerelease(options.prerelease)
    if options.jobs is not None and options.jobs < 1:
        raise ToolingError(f"--jobs: {options.jobs} is not a number of workers; give 1 or more")


def _read_utf8(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise ToolingError(
            f"{path}: the {what} is not UTF-8 (byte {exc.start}: {exc.reason}); re-encode it as "
            "UTF-8 and run again (nothing was changed)", path=path,
        ) from exc
    except OSError as exc:
        raise ToolingError(f"{path}: cannot read the {what} ({exc.strerror})", path=path) from exc


def require_consumer_list(options: ReleaseOptions) -> None:
    """Fail before the first side effect when the consumer list the cascade reads is missing."""
    load_consumers(Path(options.consumers))


def check_inputs(config: Config, options: ReleaseOptions, *, dry_run: bool) -> None:
    """Check everything the release reads later, so a typo fails now and not after the push.

    The consumer list is parsed and validated in full, the CHANGELOG must be UTF-8, the index
    URLs must parse, and a missing ``CASCADE_TOKEN`` is said now, naming the consumers the
    cascade will skip for it.
    """
    listing = Path(options.consumers)
    # Planning needs no consumer list (a first adoption may not have one, and "nothing to
    # release" must stay exit 0); a release that goes ahead calls require_consumer_list.
    consumers = load_consumers(listing) if listing.exists() else None
    _commit_files(config)
    _read_utf8(_changelog(config), "CHANGELOG")
    for name in ("RUNTIME_INDEX_URL", "TWINE_REPOSITORY_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            parse_http_url(value, where=name)
    if not dry_run and index_url_from_env() is None:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    bump = os.environ.get("RELEASE_BUMP", "")
    if bump.strip():
        parse_bump(bump, where="RELEASE_BUMP")
    pythons = os.environ.get(PYTHONS_ENV, "")
    if pythons.strip() and not dry_run:
        find_pythons(parse_restriction([pythons]))  # each one named must be found
    needing = [c.name for c in consumers.active if c.needs_token] if consumers else []
    if needing and not os.environ.get(_CASCADE_TOKEN, "").strip():
        print(f"warning: {_CASCADE_TOKEN} not set; the cascade will skip {', '.join(needing)}",
              file=sys.stderr)


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
        journal.finish(Step.PLAN, _plan_result(journal.version, journal.tag, journal.plan))
    if journal is None or journal.is_done(Step.COMMIT) or journal.was_started(Step.COMMIT):
        return journal
    if _text(journal.plan, "base", str(journal.path)) == gitops.head_commit(config.root):
        return journal
    stale = journal.path.with_name(f"{journal.path.name}.stale-{int(time.time())}")
    journal.path.replace(stale)
    print(f"note: HEAD moved since release {journal.version} was planned and nothing was "
          f"committed yet; planning again (old journal kept as {stale.name})", file=sys.stderr)
    return None


# -- plan -----------------------------------------------------------------------------------


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
    recorded["base"] = gitops.head_commit(config.root)
    # Names this run in its tag message and its version commit, so two runs racing from the
    # same base never make the same objects (and both "win" the push); the one the remote
    # refuses learns it lost (gitops.tag_message, docs/release.md "Concurrent releases").
    recorded["release_id"] = uuid.uuid4().hex
    recorded["changelog"] = render_section(plan.next, plan.commits, date=release_date())
    journal = Journal.create(config.root / JOURNAL_DIR, plan.next, plan.tag, recorded)
    journal.begin(Step.PLAN)
    journal.finish(Step.PLAN, _plan_result(plan.next, plan.tag, recorded))
    return journal


def set_aside_unpushed(config: Config) -> str | None:
    """Undo the unpushed release whose push lost a race; keep its journal aside.  Its version.

    Only a release nothing irreversible happened to yet (not pushed) is undone: its local
    version commit and tag go, so the next plan starts from the remote's new tip.
    """
    journal = journal_for(config)
    if journal is None or journal.is_done("push"):
        return None
    base = _text(journal.plan, "base", str(journal.path))
    gitops.drop_local_release(config.root, journal.tag, base,
                              gitops.release_message(journal.version))
    journal.path.replace(journal.path.with_name(f"{journal.path.name}.lost-{int(time.time())}"))
    return journal.version


# -- dev releases ---------------------------------------------------------------------------

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
    head = gitops.head_commit(config.root)
    recorded.update({"base": head, "dev": True, "next": version})
    directory = config.root / JOURNAL_DIR / DEV_DIR
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / f"{version}.json"
    if old.exists():  # an earlier run that uploaded nothing (else N would have moved on)
        old.replace(old.with_name(f"{old.name}.stale-{int(time.time())}"))
    journal = Journal.create(directory, version, config.tag_for(version), recorded)
    journal.begin(Step.PLAN)
    journal.finish(Step.PLAN, _plan_result(version, journal.tag, recorded))
    journal.begin(Step.COMMIT)
    # A dev release makes no commit: HEAD stands in for it, named as such.
    journal.finish(Step.COMMIT, {**to_json(CommitRecord(head, head, "dev release: no commit")),
                                 "skipped": "dev"})
    return journal


def skip_step(ctx: ReleaseContext, name: Step, why: str) -> None:
    """Record ``name`` done without acting (a dev release skips the tag or the cascade)."""
    if ctx.journal.is_done(name):
        return
    print(f"--- {name}: skipped ({why})", file=sys.stderr, flush=True)
    ctx.journal.begin(name)
    ctx.journal.finish(name, {"skipped": why})


def _plan_result(version: str, tag: str, plan: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return to_json(PlanRecord(version, tag, plan.get("base"), plan.get("bump")))


# -- build and smoke ------------------------------------------------------------------------


@contextlib.contextmanager
def _build_tree(ctx: ReleaseContext) -> Iterator[Config]:
    """Yield the configuration of a scratch worktree at the plan's base, at the new version.

    Building there keeps the user's tree untouched until the version commit, and the tree
    built is exactly the tree that commit will hold.
    """
    base = _text(ctx.journal.plan, "base", str(ctx.journal.path))
    tree = ctx.work_dir / "worktree"
    with gitops.scratch_worktree(ctx.config.root, base, tree), build_epoch(ctx.journal.plan):
        gitops.set_project_version(tree / "pyproject.toml", ctx.version)
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
    base = _text(ctx.journal.plan, "base", str(ctx.journal.path))
    message = gitops.release_message(ctx.version)
    made = gitops.find_release_commit(root, base, message)
    if made is None:
        head = gitops.head_commit(root)
        if head != base:
            raise ToolingError(
                f"HEAD is {head[:12]}, not {base[:12]} where release {ctx.version} was planned; "
                "reset to it or abandon the release (docs/release.md)"
            )
        section = _text(ctx.journal.plan, "changelog", str(ctx.journal.path))
        write_version_files(ctx.config, ctx.version, section)
        run_id = ctx.journal.plan.get("release_id")
        body = f"{message}\n\nRelease-Run: {run_id}" if isinstance(run_id, str) else message
        made = gitops.commit_files(root, _commit_files(ctx.config), body)
    return CommitRecord(made, base, message)


def write_version_files(config: Config, version: str, section: str) -> None:
    """Write the new version into pyproject.toml and its section into the CHANGELOG: both or none.

    Both new texts are computed before either file is touched; a failure while writing puts
    the first back.  A kill between the two writes leaves pyproject written: the resumed
    commit step writes both again, and both writes are idempotent.
    """
    pyproject, changelog = config.root / "pyproject.toml", _changelog(config)
    old_pyproject = _read_utf8(pyproject, "pyproject.toml")
    old_changelog = _read_utf8(changelog, "CHANGELOG")
    new_pyproject = gitops.project_version_text(old_pyproject, version, pyproject)
    new_changelog = insert_section(old_changelog, version, section)
    existed = changelog.exists()
    try:
        write_atomic(pyproject, new_pyproject)
        crash_if_asked("commit:between-writes")
        write_atomic(changelog, new_changelog)
    except BaseException:
        write_atomic(pyproject, old_pyproject)
        if existed:
            write_atomic(changelog, old_changelog)
        else:
            changelog.unlink(missing_ok=True)
        raise


def _release_commit(ctx: ReleaseContext) -> str:
    return CommitRecord.load(ctx.journal).commit


def tag(ctx: ReleaseContext) -> gitops.TagResult:
    """Create the annotated release tag at the version commit."""
    release_id = ctx.journal.plan.get("release_id")
    message = gitops.tag_message(f"{ctx.config.name} {ctx.version}",
                                 release_id if isinstance(release_id, str) else None)
    return gitops.create_tag(ctx.config.root, ctx.journal.tag, _release_commit(ctx), message)


def push(ctx: ReleaseContext) -> gitops.PushResult:
    """Push the version commit and the tag atomically, then read the tag back from the remote."""
    return gitops.push_release(
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
