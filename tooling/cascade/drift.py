"""The drift guard: every non-exempt consumer's pin against the latest release on the index.

It reads the same `consumers.toml` entries the cascade writes to (one list), each pin from the
consumer's remote, as the cascade would: a consumer without a release workflow is skipped, one
whose declared needs the latest release does not meet is held, not lagging.
With an organisation it also lists, through the forge API, the
repositories that carry a pin file but are missing from the list (blind spots); a 401 or 403
there is a warning, never a failure of the whole check.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from tooling.cascade.consumers import Consumer, ConsumerList, needs_token
from tooling.cascade.converge import read_remote
from tooling.cascade.fanout import fan_out
from tooling.cascade.forge import ForgeClient, ForgeError, OrgRepository
from tooling.cascade.gitenv import NO_TOKEN, cascade_token, git_env
from tooling.cascade.needs import CompatSource, held_reason
from tooling.cascade.outcome import Outcome
from tooling.cascade.pins import DISTRIBUTION, read_pin, workflow_skip
from tooling.errors import ToolingError
from tooling.index import latest_version, read_project
from tooling.needs import NEEDS_FILE
from tooling.secrets import redact
from tooling.version import is_valid_version

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LAGGING", "BlindSpot", "DriftReport", "DriftRow", "drift_all", "latest_release"]

LAGGING = frozenset({Outcome.LAGGING, Outcome.MISSING, Outcome.INVALID, Outcome.UNPUBLISHED})
"""Drift results that fail the check (exit 1)."""
_SCOPE_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class DriftRow:
    """One consumer's pin against the index."""

    consumer: str
    """The consumer's name."""
    action: str
    """`read` when its remote was read, `none` when not (exempt, no token)."""
    result: Outcome
    """`current`, `ahead`, `lagging`, `unpublished`, `missing`, `invalid`, `held`, `skipped`,
    `error`."""
    reason: str
    """Why, in one line."""
    pin: str | None
    """The pin's first line, stripped (None: not read or no pin file)."""
    seconds: float = 0.0
    """Wall time spent on this consumer."""


@dataclass(frozen=True)
class BlindSpot:
    """A repository of the organisation that pins the runtime but is not in consumers.toml."""

    repository: str
    """`owner/name`."""
    branch: str
    """The default branch its pin was read from."""
    pin: str
    """What its pin file says (first line, stripped)."""


@dataclass(frozen=True)
class DriftReport:
    """The whole drift check."""

    latest: str
    """The latest release on the index (final releases first; a prerelease if only those)."""
    rows: tuple[DriftRow, ...]
    """One row per consumer in the list, in file order."""
    blind_spots: tuple[BlindSpot, ...]
    """Pinned repositories missing from the list (only with an organisation)."""
    warnings: tuple[str, ...]
    """Problems that do not fail the check (the org listing's 401/403, missing token)."""
    errors: tuple[str, ...]
    """Real errors outside the rows (the org listing failing otherwise)."""
    seconds: float
    """Wall time."""

    @property
    def exit_code(self) -> int:
        """2 on a real error, 1 when a pin lags (or a blind spot exists), else 0."""
        if self.errors or any(r.result == Outcome.ERROR for r in self.rows):
            return 2
        if self.blind_spots or any(r.result in LAGGING for r in self.rows):
            return 1
        return 0


def latest_release(index_url: str, distribution: str = DISTRIBUTION) -> tuple[str, tuple[str, ...]]:
    """Return the latest release of ``distribution`` on the index and every published version."""
    project = read_project(index_url, distribution)
    latest = latest_version(project) or latest_version(project, include_prereleases=True)
    if latest is None:
        raise ToolingError(
            f"{index_url}: serves no release of {distribution}; check RUNTIME_INDEX_URL",
            exit_code=2,
        )
    return latest, project.versions()


def drift_all(
    consumers: ConsumerList,
    latest: str,
    published: Sequence[str],
    *,
    jobs: int | None = None,
    token: str | None = None,
    org: str | None = None,
    forge: ForgeClient | None = None,
    compat: CompatSource | None = None,
    progress: bool = False,
) -> DriftReport:
    """Compare every non-exempt consumer's pin with ``latest``; list blind spots of ``org``.

    ``forge`` is required with ``org``; ``compat`` is where ``latest``'s compat.json comes
    from for consumers that declare needs.  Never raises per consumer.
    """
    secret = cascade_token(token)
    source = compat or CompatSource(latest)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drift-") as scratch:
        checker = _Checker(
            latest, frozenset(published), secret, git_env(secret), Path(scratch), source
        )
        describe = _describe if progress else None
        rows = fan_out(
            consumers.consumers, checker.one, jobs=jobs, describe=describe, title="drift"
        )
    warnings: list[str] = []
    errors: list[str] = []
    spots: tuple[BlindSpot, ...] = ()
    skipped = [r.consumer for r in rows if r.reason == NO_TOKEN]
    if skipped:
        warnings.append(f"CASCADE_TOKEN is not set; not checked: {', '.join(skipped)}")
    if org:
        if forge is None:
            raise ToolingError("drift --org needs a forge API URL; pass --forge-url", exit_code=2)
        spots = _blind_spots(
            consumers, org, forge, jobs=jobs, warnings=warnings, errors=errors
        )
    return DriftReport(
        latest, tuple(rows), spots, tuple(warnings), tuple(errors),
        round(time.perf_counter() - start, 3),
    )


def _blind_spots(
    consumers: ConsumerList,
    org: str,
    forge: ForgeClient,
    *,
    jobs: int | None,
    warnings: list[str],
    errors: list[str],
) -> tuple[BlindSpot, ...]:
    try:
        repos = forge.list_org_repos(org)
    except ForgeError as exc:
        if exc.status in _SCOPE_STATUSES:
            # A token without the org scope is a configuration gap, not drift (seed 003).
            warnings.append(f"blind-spot check skipped: {exc.message}")
        else:
            errors.append(f"blind-spot check failed: {exc.message}")
        return ()
    listed = {c.repository.lower() for c in consumers.consumers if c.repository}
    candidates = [r for r in repos if not r.archived and r.full_name.lower() not in listed]

    def probe(repo: OrgRepository) -> BlindSpot | str | None:
        try:
            data = forge.read_file(repo.full_name, consumers.pin_file, ref=repo.default_branch)
        except ForgeError as exc:
            return exc.message if exc.status in _SCOPE_STATUSES else f"error: {exc.message}"
        if data is None:
            return None
        return BlindSpot(repo.full_name, repo.default_branch, read_pin(data))

    found: list[BlindSpot] = []
    for outcome in fan_out(candidates, probe, jobs=jobs):
        if isinstance(outcome, BlindSpot):
            found.append(outcome)
        elif isinstance(outcome, str) and outcome.startswith("error: "):
            errors.append(outcome.removeprefix("error: "))
        elif isinstance(outcome, str):
            warnings.append(outcome)
    return tuple(found)


@dataclass(frozen=True)
class _Checker:
    latest: str
    published: frozenset[str]
    token: str | None
    env: dict[str, str]
    scratch: Path
    compat: CompatSource

    def one(self, consumer: Consumer) -> DriftRow:
        start = time.perf_counter()
        if consumer.exempt:
            row = DriftRow(consumer.name, "none", Outcome.SKIPPED, "exempt", None)
        elif needs_token(consumer.url) and not self.token:
            row = DriftRow(consumer.name, "none", Outcome.SKIPPED, NO_TOKEN, None)
        else:
            try:
                row = self._check(consumer)
            except ToolingError as exc:
                row = DriftRow(consumer.name, "read", Outcome.ERROR, redact(exc.message), None)
            except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop the others
                reason = redact(f"unexpected {type(exc).__name__}: {exc}")
                row = DriftRow(consumer.name, "read", Outcome.ERROR, reason, None)
        return replace(row, seconds=round(time.perf_counter() - start, 3))

    def _check(self, consumer: Consumer) -> DriftRow:
        remote = read_remote(consumer, consumer.branch, env=self.env, scratch=self.scratch)
        name, latest = consumer.name, self.latest
        skip = workflow_skip(remote.workflows, consumer.release_workflow)
        if skip:
            return DriftRow(name, "read", Outcome.SKIPPED, f"not cascaded: {skip}", None)
        stated = remote.stated(consumer)
        if stated.problem:
            return DriftRow(name, "read", Outcome.INVALID, stated.problem, None)
        pin = stated.version
        if pin != latest and remote.needs is not None:
            held = held_reason(remote.needs, NEEDS_FILE, self.compat)
            if held:
                return DriftRow(name, "read", Outcome.HELD, held, pin)
        return _verdict(name, pin, latest, self.published, consumer)


def _verdict(
    name: str, pin: str | None, latest: str, published: frozenset[str], consumer: Consumer
) -> DriftRow:
    """Compare the pin a consumer states with the latest release."""
    if pin is None:
        where = consumer.pin_file or ", ".join(consumer.requirements)
        reason = f"nothing pins the runtime in {where} on {consumer.branch}"
        return DriftRow(name, "read", Outcome.MISSING, reason, None)
    if not is_valid_version(pin):
        return DriftRow(name, "read", Outcome.INVALID, f"pin {pin!r} is not a release version", pin)
    if pin == latest:
        return DriftRow(name, "read", Outcome.CURRENT, f"at the latest release {latest}", pin)
    if Version(pin) < Version(latest):
        return DriftRow(name, "read", Outcome.LAGGING, f"pins {pin}, latest is {latest}", pin)
    if pin not in published:
        reason = f"pins {pin}, which the index does not serve (latest {latest})"
        return DriftRow(name, "read", Outcome.UNPUBLISHED, reason, pin)
    return DriftRow(name, "read", Outcome.AHEAD, f"pins {pin}, newer than {latest}", pin)


def _describe(row: DriftRow) -> str:
    return f"{row.consumer}: {row.result} - {row.reason}"
