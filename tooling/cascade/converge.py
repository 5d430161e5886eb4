"""Converge: read every cascaded consumer's pin back from its remote and compare.

The read goes to the remote itself (a fresh `--depth 1` clone of the branch), never to a cached
checkout, and takes the pin file's first line, stripped (what the consumer's image build reads),
or, for a consumer with `pin-file = false`, the version its requirement lines name.  A consumer
the cascade skipped is skipped here for the same reason: no release workflow, exempt, or no
`CASCADE_TOKEN` for a remote that needs one (then converge says so and succeeds).  One the
cascade held (the release does not meet its declared needs) is reported as held, not diverged.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cascade.consumers import Consumer, ConsumerList
from tooling.cascade.fanout import fan_out
from tooling.cascade.gitenv import NO_TOKEN, cascade_token, git_env
from tooling.cascade.needs import CompatSource, held_reason
from tooling.cascade.outcome import Outcome
from tooling.cascade.pins import DISTRIBUTION, stated_version, workflow_skip
from tooling.cascade.repos import clone_branch
from tooling.cascade.snapshot import Snapshot, local_git_dir, read_snapshot
from tooling.errors import ToolingError
from tooling.index import index_url_from_env
from tooling.needs import NEEDS_FILE
from tooling.secrets import redact
from tooling.version import is_valid_version, validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.cascade.pins import Stated

__all__ = [
    "ConvergeReport",
    "ConvergeRow",
    "RemotePin",
    "converge_all",
    "divergence_line",
    "read_remote",
]

_POLL_SECONDS = 10.0
_FAILING = frozenset({Outcome.DIVERGED, Outcome.MISSING, Outcome.ERROR})


@dataclass(frozen=True)
class ConvergeRow:
    """What one consumer's remote pin says after the cascade."""

    consumer: str
    """The consumer's name."""
    action: str
    """`read` when the remote was read, `none` when it was not."""
    result: Outcome
    """`converged`, `pending` (pull request open), `held` (the release does not meet its
    declared needs), `diverged`, `missing`, `skipped`, `error`."""
    reason: str
    """Why, in one line."""
    got: str | None
    """The pin's first line, stripped, as read from the remote (None: not read or absent)."""
    want: str
    """The version it must show."""
    seconds: float = 0.0
    """Wall time spent on this consumer."""


@dataclass(frozen=True)
class ConvergeReport:
    """Every consumer's pin, read back."""

    version: str
    """The version every cascaded pin must show."""
    rows: tuple[ConvergeRow, ...]
    """One row per consumer in the list, in file order."""
    credentials_missing: tuple[str, ...]
    """Consumers not read because they need `CASCADE_TOKEN` (the cascade skipped them too)."""
    seconds: float
    """Wall time of the whole read-back."""

    @property
    def failed(self) -> tuple[ConvergeRow, ...]:
        """Rows that diverge, miss their pin, or could not be read."""
        return tuple(r for r in self.rows if r.result in _FAILING)

    @property
    def held(self) -> tuple[ConvergeRow, ...]:
        """Rows held back because the release does not meet the consumer's needs."""
        return tuple(r for r in self.rows if r.result == Outcome.HELD)

    @property
    def ok(self) -> bool:
        """Every cascaded consumer shows the version (or is pending, held, or was skipped)."""
        return not self.failed


@dataclass(frozen=True)
class RemotePin:
    """What cascade, converge and drift read from a consumer's branch on its remote."""

    workflows: tuple[str, ...]
    """Workflow file paths under `.github/workflows/` and `.gitea/workflows/`."""
    data: bytes | None
    """The pin file's bytes, None when the branch has no such file (or `pin-file = false`)."""
    kind: str | None = None
    """What the pin path is: `file`, `symlink`, `directory`, `submodule`; None: absent."""
    requirements: Mapping[str, bytes | None] = field(default_factory=dict)
    """Each configured requirement file's bytes (None: absent)."""
    needs: bytes | None = None
    """The consumer's `runtime-needs.toml`, None when it declares none."""

    def stated(self, consumer: Consumer, distribution: str = DISTRIBUTION) -> Stated:
        """The version this branch pins, read as the consumer is configured."""
        return stated_version(
            pin_file=consumer.pin_file, pin=self.data, pin_kind=self.kind,
            requirements=self.requirements, distribution=distribution,
        )


def read_remote(
    consumer: Consumer, branch: str, *, env: Mapping[str, str], scratch: Path
) -> RemotePin:
    """Read ``consumer``'s pin, requirement files, needs and workflow list at ``branch``.

    A remote on this machine is read in place (one `git cat-file`, the same refs and objects a
    clone would get); any other is shallow-cloned first.
    """
    pin = (consumer.pin_file,) if consumer.pin_file else ()
    paths = (*pin, *consumer.requirements, NEEDS_FILE)
    local = local_git_dir(consumer.url)
    if local is not None:
        return _remote_of(consumer, read_snapshot(local, branch, paths, env=env))
    workdir = Path(tempfile.mkdtemp(prefix="read-", dir=scratch))
    try:
        checkout = clone_branch(consumer.url, branch, workdir / "repo", env=env, paths=paths)
        return _remote_of(consumer, checkout.snapshot)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _remote_of(consumer: Consumer, snapshot: Snapshot) -> RemotePin:
    pin_file = consumer.pin_file
    return RemotePin(
        workflows=snapshot.workflows(),
        data=snapshot.read(pin_file) if pin_file else None,
        kind=snapshot.kind(pin_file) if pin_file else None,
        requirements={p: snapshot.read(p) for p in consumer.requirements},
        needs=snapshot.read(NEEDS_FILE),
    )


def converge_all(
    consumers: ConsumerList | Sequence[Consumer],
    version: str,
    *,
    jobs: int | None = None,
    token: str | None = None,
    wait: float = 0.0,
    compat: CompatSource | None = None,
    progress: bool = False,
) -> ConvergeReport:
    """Read every cascaded consumer's pin from its remote and compare it with ``version``.

    ``token`` defaults to `CASCADE_TOKEN` (``""``: none).  ``wait`` keeps re-reading diverged
    consumers (e.g. `dispatch` ones, whose own workflow writes the pin) for up to that many
    seconds.  ``compat`` tells held consumers (see `cascade_all`).  Never raises per consumer.
    """
    validate_version(version, where="converge version")
    source = compat or CompatSource(version, index_url=index_url_from_env())
    secret = cascade_token(token)
    items = consumers.consumers if isinstance(consumers, ConsumerList) else tuple(consumers)
    start = time.perf_counter()
    deadline = start + max(0.0, wait)
    with tempfile.TemporaryDirectory(prefix="converge-") as scratch:
        reader = _Reader(version, secret, git_env(secret), Path(scratch), source)
        describe = _describe if progress else None
        rows = fan_out(items, reader.one, jobs=jobs, describe=describe, title=f"converge {version}")
        while any(r.result == Outcome.DIVERGED for r in rows) and time.perf_counter() < deadline:
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.perf_counter())))
            again = [i for i, r in enumerate(rows) if r.result == Outcome.DIVERGED]
            fresh = fan_out([items[i] for i in again], reader.one, jobs=jobs, describe=describe)
            for index, row in zip(again, fresh, strict=True):
                rows[index] = row
    missing = tuple(r.consumer for r in rows if r.reason == NO_TOKEN)
    return ConvergeReport(version, tuple(rows), missing, round(time.perf_counter() - start, 3))


def divergence_line(row: ConvergeRow) -> str:
    """Return the Actions line log scrapers page on (seed 001) for a diverged or missing pin."""
    got = "missing" if row.got is None else (row.got or "empty")
    # Workflow-command escaping keeps a junk pin from ending the command early.
    got = got.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A")
    return f"::error msg=cascade-divergence consumer={row.consumer} got={got} want={row.want}::"


@dataclass(frozen=True)
class _Reader:
    version: str
    token: str | None
    env: dict[str, str]
    scratch: Path
    compat: CompatSource

    def one(self, consumer: Consumer) -> ConvergeRow:
        start = time.perf_counter()
        want = self.version
        if consumer.exempt:
            row = ConvergeRow(consumer.name, "none", Outcome.SKIPPED, "exempt", None, want)
        elif consumer.needs_token and not self.token:
            row = ConvergeRow(consumer.name, "none", Outcome.SKIPPED, NO_TOKEN, None, want)
        else:
            try:
                row = self._read(consumer)
            except ToolingError as exc:
                reason = redact(exc.message)
                row = ConvergeRow(consumer.name, "read", Outcome.ERROR, reason, None, want)
            except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop the others
                reason = redact(f"unexpected {type(exc).__name__}: {exc}")
                row = ConvergeRow(consumer.name, "read", Outcome.ERROR, reason, None, want)
        return replace(row, seconds=round(time.perf_counter() - start, 3))

    def _remote(self, consumer: Consumer, branch: str) -> RemotePin:
        return read_remote(consumer, branch, env=self.env, scratch=self.scratch)

    def _read(self, consumer: Consumer) -> ConvergeRow:
        name, want = consumer.name, self.version
        remote = self._remote(consumer, consumer.branch)
        skip = workflow_skip(remote.workflows, consumer.release_workflow)
        if skip:
            return ConvergeRow(name, "read", Outcome.SKIPPED, f"not cascaded: {skip}", None, want)
        stated = remote.stated(consumer)
        if stated.problem:
            raise ToolingError(stated.problem)  # reported as this consumer's error
        got = stated.version
        if got == want:
            exact = consumer.pin_file is None or remote.data == f"{want}\n".encode()
            extra = "" if exact else " (the file holds more than the version)"
            return ConvergeRow(name, "read", Outcome.CONVERGED, f"pin is {want}{extra}", got, want)
        if remote.needs is not None:
            held = held_reason(remote.needs, NEEDS_FILE, self.compat)
            if held:
                return ConvergeRow(name, "read", Outcome.HELD, held, got, want)
        if got is None:
            where = consumer.pin_file or ", ".join(consumer.requirements)
            reason = f"nothing pins the runtime in {where} on {consumer.branch}"
            return ConvergeRow(name, "read", Outcome.MISSING, reason, None, want)
        if consumer.mode == "pr" and self._bump_branch_carries(consumer):
            reason = f"pull request from runtime-bump/{want} carries {want}; merge it"
            return ConvergeRow(name, "read", Outcome.PENDING, reason, got, want)
        kind = "" if is_valid_version(got) else " (not a release version)"
        reason = f"pin is {got!r}{kind}, want {want}"
        return ConvergeRow(name, "read", Outcome.DIVERGED, reason, got, want)

    def _bump_branch_carries(self, consumer: Consumer) -> bool:
        try:
            remote = self._remote(consumer, f"runtime-bump/{self.version}")
        except ToolingError:
            return False  # no bump branch: the pull request was never pushed
        return remote.stated(consumer).version == self.version


def _describe(row: ConvergeRow) -> str:
    return f"{row.consumer}: {row.result} - {row.reason}"
