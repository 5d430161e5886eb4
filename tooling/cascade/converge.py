"""Converge: read every cascaded consumer's pin back from its remote and compare.

The read goes to the remote itself (a fresh `--depth 1` clone of the branch), never to a cached
checkout, and takes the pin file's first line, stripped (what the consumer's image build reads).
A consumer the cascade skipped is skipped here for the same reason: no release workflow, exempt,
or no `CASCADE_TOKEN` for a remote that needs one (then converge says so and succeeds, seed 001).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cascade.consumers import Consumer, ConsumerList
from tooling.cascade.fanout import fan_out
from tooling.cascade.pins import read_pin, workflow_skip
from tooling.cascade.repos import (
    NO_TOKEN,
    cascade_token,
    clone_branch,
    git_env,
    local_git_dir,
    read_snapshot,
)
from tooling.errors import ToolingError
from tooling.secrets import redact
from tooling.version import is_valid_version, validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ConvergeReport",
    "ConvergeRow",
    "RemotePin",
    "converge_all",
    "divergence_line",
    "read_remote_pin",
]

_POLL_SECONDS = 10.0
_FAILING = frozenset({"diverged", "missing", "error"})


@dataclass(frozen=True)
class ConvergeRow:
    """What one consumer's remote pin says after the cascade."""

    consumer: str
    """The consumer's name."""
    action: str
    """`read` when the remote was read, `none` when it was not."""
    result: str
    """`converged`, `pending` (pull request open), `diverged`, `missing`, `skipped`, `error`."""
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
    def ok(self) -> bool:
        """Every cascaded consumer shows the version (or is pending, or was skipped)."""
        return not self.failed


@dataclass(frozen=True)
class RemotePin:
    """A pin file and the workflow files, as a branch on a remote holds them."""

    workflows: tuple[str, ...]
    """Workflow file paths under `.github/workflows/` and `.gitea/workflows/`."""
    data: bytes | None
    """The pin file's bytes, None when the branch has no such file."""


def read_remote_pin(
    url: str, branch: str, pin_file: str, *, env: Mapping[str, str], scratch: Path
) -> RemotePin:
    """Read ``pin_file`` and the workflow list from ``branch`` of the remote at ``url``.

    A remote on this machine is read in place (one `git cat-file`, the same refs and objects a
    clone would get); any other is shallow-cloned first.
    """
    local = local_git_dir(url)
    if local is not None:
        snapshot = read_snapshot(local, branch, (pin_file,), env=env)
        return RemotePin(snapshot.workflows(), snapshot.read(pin_file))
    workdir = Path(tempfile.mkdtemp(prefix="read-", dir=scratch))
    try:
        checkout = clone_branch(url, branch, workdir / "repo", env=env, paths=(pin_file,))
        return RemotePin(checkout.workflows(), checkout.read(pin_file))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def converge_all(
    consumers: ConsumerList | Sequence[Consumer],
    version: str,
    *,
    jobs: int | None = None,
    token: str | None = None,
    wait: float = 0.0,
    progress: bool = False,
) -> ConvergeReport:
    """Read every cascaded consumer's pin from its remote and compare it with ``version``.

    ``token`` defaults to `CASCADE_TOKEN` (``""``: none).  ``wait`` keeps re-reading diverged
    consumers (e.g. `dispatch` ones, whose own workflow writes the pin) for up to that many
    seconds.  Never raises per consumer.
    """
    validate_version(version, where="converge version")
    secret = cascade_token(token)
    items = consumers.consumers if isinstance(consumers, ConsumerList) else tuple(consumers)
    start = time.perf_counter()
    deadline = start + max(0.0, wait)
    with tempfile.TemporaryDirectory(prefix="converge-") as scratch:
        reader = _Reader(version, secret, git_env(secret), Path(scratch))
        describe = _describe if progress else None
        rows = fan_out(items, reader.one, jobs=jobs, describe=describe, title=f"converge {version}")
        while any(r.result == "diverged" for r in rows) and time.perf_counter() < deadline:
            time.sleep(min(_POLL_SECONDS, max(0.0, deadline - time.perf_counter())))
            again = [i for i, r in enumerate(rows) if r.result == "diverged"]
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

    def one(self, consumer: Consumer) -> ConvergeRow:
        start = time.perf_counter()
        want = self.version
        if consumer.exempt:
            row = ConvergeRow(consumer.name, "none", "skipped", "exempt", None, want)
        elif consumer.needs_token and not self.token:
            row = ConvergeRow(consumer.name, "none", "skipped", NO_TOKEN, None, want)
        else:
            try:
                row = self._read(consumer)
            except ToolingError as exc:
                row = ConvergeRow(consumer.name, "read", "error", redact(exc.message), None, want)
            except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop the others
                reason = redact(f"unexpected {type(exc).__name__}: {exc}")
                row = ConvergeRow(consumer.name, "read", "error", reason, None, want)
        return replace(row, seconds=round(time.perf_counter() - start, 3))

    def _remote(self, consumer: Consumer, branch: str) -> RemotePin:
        return read_remote_pin(
            consumer.url, branch, consumer.pin_file, env=self.env, scratch=self.scratch
        )

    def _read(self, consumer: Consumer) -> ConvergeRow:
        name, want = consumer.name, self.version
        remote = self._remote(consumer, consumer.branch)
        skip = workflow_skip(remote.workflows, consumer.release_workflow)
        if skip:
            return ConvergeRow(name, "read", "skipped", f"not cascaded: {skip}", None, want)
        if remote.data is None:
            reason = f"no pin file {consumer.pin_file} on {consumer.branch}"
            return ConvergeRow(name, "read", "missing", reason, None, want)
        got = read_pin(remote.data)
        if got == want:
            exact = remote.data == f"{want}\n".encode()
            extra = "" if exact else " (the file holds more than the version)"
            return ConvergeRow(name, "read", "converged", f"pin is {want}{extra}", got, want)
        if consumer.mode == "pr" and self._bump_branch_carries(consumer):
            reason = f"pull request from runtime-bump/{want} carries {want}; merge it"
            return ConvergeRow(name, "read", "pending", reason, got, want)
        kind = "" if is_valid_version(got) else " (not a release version)"
        reason = f"pin is {got!r}{kind}, want {want}"
        return ConvergeRow(name, "read", "diverged", reason, got, want)

    def _bump_branch_carries(self, consumer: Consumer) -> bool:
        try:
            remote = self._remote(consumer, f"runtime-bump/{self.version}")
        except ToolingError:
            return False  # no bump branch: the pull request was never pushed
        return remote.data is not None and read_pin(remote.data) == self.version


def _describe(row: ConvergeRow) -> str:
    return f"{row.consumer}: {row.result} - {row.reason}"
