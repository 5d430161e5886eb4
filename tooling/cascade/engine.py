"""Cascade a release to every consumer: the engine and `python -m tooling.cascade`.

For every non-exempt consumer in `consumers.toml`, in parallel: shallow-clone its branch, skip
it (with the reason) when it has no release workflow, hold it when the release does not meet
its declared needs, write the pin as exactly the version and a newline (creating the file when
absent), bump its requirement lines, commit and push (or open a pull request, or send a
repository dispatch).  Converge (tooling.cascade.converge) reads every pin back; the drift
guard (tooling.cascade.drift) checks pins against the index.  `invoke cascade|converge|drift`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cascade.consumers import Consumer, ConsumerList
from tooling.cascade.converge import ConvergeReport, ConvergeRow, converge_all
from tooling.cascade.fanout import fan_out
from tooling.cascade.forge import DISPATCH_EVENT, ForgeClient
from tooling.cascade.gitenv import NO_TOKEN, cascade_token, git_env
from tooling.cascade.needs import CompatSource, held_reason
from tooling.cascade.outcome import Outcome
from tooling.cascade.pins import DISTRIBUTION, BumpPlan, plan_bump
from tooling.cascade.repos import Checkout, clone_branch
from tooling.errors import ToolingError
from tooling.index import index_url_from_env
from tooling.needs import NEEDS_FILE
from tooling.secrets import redact
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Sequence

# converge_all is re-exported: the release orchestration imports both from here.
__all__ = [
    "CascadeReport",
    "CascadeRow",
    "ConvergeReport",
    "ConvergeRow",
    "cascade_all",
    "converge_all",
]

ATTEMPTS = 3


@dataclass(frozen=True)
class CascadeRow:
    """What the cascade did for one consumer."""

    consumer: str
    """The consumer's name."""
    action: str
    """`push`, `pr`, `dispatch`, or `none` when nothing was sent."""
    result: Outcome
    """`updated`, `current` (already at the version: no commit), `skipped`, `held` (the
    release does not meet its declared needs: nothing written) or `failed`."""
    reason: str
    """Why, in one line: the change made, the skip reason or the failure."""
    previous: str | None = None
    """The version its pin stated before (first line, stripped), if it had one."""
    commit: str | None = None
    """The commit pushed, if any."""
    url: str | None = None
    """The pull request opened, if any."""
    attempts: int = 0
    """Push attempts made (more than one after a concurrent push)."""
    seconds: float = 0.0
    """Wall time spent on this consumer."""


@dataclass(frozen=True)
class CascadeReport:
    """The whole cascade."""

    version: str
    """The version propagated."""
    rows: tuple[CascadeRow, ...]
    """One row per consumer in the list, in file order."""
    credentials_missing: tuple[str, ...]
    """Consumers skipped because they need `CASCADE_TOKEN` and it is not set."""
    seconds: float
    """Wall time of the whole fan-out."""

    @property
    def failed(self) -> tuple[CascadeRow, ...]:
        """The rows that failed: the consumer has a release workflow and is not pinned."""
        return tuple(r for r in self.rows if r.result == Outcome.FAILED)

    @property
    def held(self) -> tuple[CascadeRow, ...]:
        """The rows held back because the release does not meet the consumer's needs."""
        return tuple(r for r in self.rows if r.result == Outcome.HELD)

    @property
    def ok(self) -> bool:
        """No consumer failed (held ones are counted apart)."""
        return not self.failed


def cascade_all(
    consumers: ConsumerList | Sequence[Consumer],
    version: str,
    *,
    jobs: int | None = None,
    token: str | None = None,
    attempts: int = ATTEMPTS,
    distribution: str = DISTRIBUTION,
    compat: CompatSource | None = None,
    progress: bool = False,
) -> CascadeReport:
    """Propagate ``version`` to every non-exempt consumer, in parallel; never raises per consumer.

    ``token`` defaults to `CASCADE_TOKEN`; pass ``""`` for none.  An invalid ``version`` is
    refused before any consumer is touched.  ``compat`` is where the release's compat.json
    comes from for consumers that declare needs (default: its wheel in `dist/`, else on the
    index at `RUNTIME_INDEX_URL`).  ``progress`` draws the live display on stderr.
    """
    validate_version(version, where="cascade version")
    secret = cascade_token(token)
    items = consumers.consumers if isinstance(consumers, ConsumerList) else tuple(consumers)
    source = compat or CompatSource(version, index_url=index_url_from_env())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cascade-") as scratch:
        context = _Context(
            version, secret, git_env(secret), Path(scratch), attempts, distribution, source
        )
        rows = fan_out(
            items,
            context.cascade_one,
            jobs=jobs,
            describe=_describe_cascade if progress else None,
            title=f"cascade {version}",
        )
    missing = tuple(r.consumer for r in rows if r.reason == NO_TOKEN)
    return CascadeReport(version, tuple(rows), missing, round(time.perf_counter() - start, 3))


@dataclass(frozen=True)
class _Context:
    version: str
    token: str | None
    env: dict[str, str]
    scratch: Path
    attempts: int
    distribution: str
    compat: CompatSource

    def _workdir(self, consumer: Consumer, purpose: str) -> Path:
        return self.scratch / f"{consumer.name}-{purpose}"

    def cascade_one(self, consumer: Consumer) -> CascadeRow:
        start = time.perf_counter()
        if consumer.exempt:
            return CascadeRow(consumer.name, "none", Outcome.SKIPPED, "exempt")
        if consumer.needs_token and not self.token:
            return CascadeRow(consumer.name, "none", Outcome.SKIPPED, NO_TOKEN)
        workdir = self._workdir(consumer, "cascade")
        try:
            row = self._cascade(consumer, workdir)
        except ToolingError as exc:
            row = CascadeRow(consumer.name, consumer.mode, Outcome.FAILED, redact(exc.message))
        except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop the others
            reason = redact(f"unexpected {type(exc).__name__}: {exc}")
            row = CascadeRow(consumer.name, consumer.mode, Outcome.FAILED, reason)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return _timed(row, start)

    def _cascade(self, consumer: Consumer, workdir: Path) -> CascadeRow:
        pin = (consumer.pin_file,) if consumer.pin_file else ()
        paths = (*pin, *consumer.requirements, NEEDS_FILE)
        checkout = clone_branch(consumer.url, consumer.branch, workdir, env=self.env, paths=paths)
        try:
            for attempt in range(1, self.attempts + 1):
                row, retry = self._attempt(consumer, checkout, attempt)
                if not retry:
                    return row
                checkout.refresh()
            return row  # the last attempt's rejection
        finally:
            checkout.close()

    def _attempt(
        self, consumer: Consumer, checkout: Checkout, attempt: int
    ) -> tuple[CascadeRow, bool]:
        """Plan and land the bump once; the flag says "the remote moved, try again"."""
        plan, row = self._decide(consumer, checkout, attempt)
        if row is not None:
            return row, False
        name, version, previous = consumer.name, self.version, plan.previous
        was = f"{previous or 'nothing'} -> {version}"
        message = f"chore(deps): bump {self.distribution} to {version}"
        sha = checkout.commit(plan.files, message, consumer.author)
        if consumer.mode == "pr":
            return self._open_pull_request(consumer, checkout, sha, message, previous), False
        outcome = checkout.push(sha, consumer.branch)
        if outcome.ok:
            reason = f"pushed {sha[:12]} ({was})"
            row = CascadeRow(name, "push", Outcome.UPDATED, reason, previous, sha, None, attempt)
            return row, False
        reason = outcome.message
        if outcome.retryable and attempt == self.attempts:
            reason = f"{reason}; gave up after {attempt} attempts"
        row = CascadeRow(name, "push", Outcome.FAILED, reason, previous, None, None, attempt)
        return row, outcome.retryable and attempt < self.attempts

    def _decide(
        self, consumer: Consumer, checkout: Checkout, attempt: int
    ) -> tuple[BumpPlan, CascadeRow | None]:
        """Plan the bump; a row when the consumer's outcome is settled without a commit."""
        pin_file = consumer.pin_file
        plan = plan_bump(
            workflows=checkout.workflows(),
            pin=checkout.read(pin_file) if pin_file else None,
            pin_kind=checkout.kind(pin_file) if pin_file else None,
            requirements={path: checkout.read(path) for path in consumer.requirements},
            pin_file=pin_file,
            release_workflows=consumer.release_workflow,
            version=self.version,
            distribution=self.distribution,
        )
        name, version, previous = consumer.name, self.version, plan.previous
        if plan.skip:
            return plan, CascadeRow(name, "none", Outcome.SKIPPED, plan.skip, previous)
        dispatch = consumer.mode == "dispatch"
        current = previous == version if dispatch else (not plan.files and not plan.refuse)
        if current:
            reason = f"already at {version}"
            return plan, CascadeRow(
                name, "none", Outcome.CURRENT, reason, previous, attempts=attempt - 1
            )
        needs = checkout.read(NEEDS_FILE)
        held = held_reason(needs, NEEDS_FILE, self.compat) if needs is not None else None
        if held:
            return plan, CascadeRow(name, "none", Outcome.HELD, held, previous)
        if dispatch:
            with self._forge(consumer) as forge:
                forge.dispatch(str(consumer.repository), {"runtime_version": version})
            reason = f"sent {DISPATCH_EVENT} ({previous or 'nothing'} -> {version})"
            return plan, CascadeRow(name, "dispatch", Outcome.UPDATED, reason, previous)
        if plan.refuse:
            return plan, CascadeRow(name, "none", Outcome.FAILED, plan.refuse, previous)
        return plan, None

    def _open_pull_request(
        self, consumer: Consumer, checkout: Checkout, sha: str, message: str, previous: str | None
    ) -> CascadeRow:
        branch = f"runtime-bump/{self.version}"
        # The bump branch is the cascade's own: re-running the cascade replaces it.
        outcome = checkout.push(sha, branch, force=True)
        if not outcome.ok:
            return CascadeRow(
                consumer.name, "pr", Outcome.FAILED, outcome.message, previous, attempts=1
            )
        body = (
            f"Pins {self.distribution} {self.version} (was {previous or 'unpinned'}).\n\n"
            "Opened by the runtime release cascade."
        )
        with self._forge(consumer) as forge:
            pull = forge.create_pull_request(
                str(consumer.repository), head=branch, base=consumer.branch, title=message,
                body=body,
            )
        label = f"#{pull.number}" if pull.number else "(number unknown)"
        state = "already open" if pull.existed else "opened"
        reason = f"pull request {label} {state} from {branch}"
        url = pull.url or None
        return CascadeRow(consumer.name, "pr", Outcome.UPDATED, reason, previous, sha, url, 1)

    def _forge(self, consumer: Consumer) -> ForgeClient:
        if consumer.api_url is None:
            raise ToolingError(f"consumer {consumer.name!r}: no api-url for mode {consumer.mode}")
        return ForgeClient(consumer.forge, consumer.api_url, self.token)

def _timed(row: CascadeRow, start: float) -> CascadeRow:
    return replace(row, seconds=round(time.perf_counter() - start, 3))


def _describe_cascade(row: CascadeRow) -> str:
    return f"{row.consumer}: {row.result} - {row.reason}"
