"""`drift --fix`: cascade the lagging consumers to the latest release, then converge them.

The heal is the cascade itself (same modes, checks, commit message, race handling and holds)
run on the consumers the drift check found lagging or unpinned, at most ``max_count`` of them
in file order, followed by converge on those it bumped.  Each ends healed, still lagging, held
or failed (docs/cascade.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.cascade.converge import ConvergeReport, ConvergeRow, converge_all
from tooling.cascade.drift import LAGGING
from tooling.cascade.engine import ATTEMPTS, CascadeReport, CascadeRow, cascade_all
from tooling.cascade.outcome import HELD_EXIT, Outcome

if TYPE_CHECKING:
    from tooling.cascade.consumers import ConsumerList
    from tooling.cascade.drift import DriftReport
    from tooling.cascade.needs import CompatSource

__all__ = ["HEALABLE", "HealReport", "HealRow", "exit_code", "heal", "pick"]

HEALABLE = frozenset({Outcome.LAGGING, Outcome.MISSING})
"""Drift results a cascade can fix: an older release pinned, or nothing pinned yet."""


@dataclass(frozen=True)
class HealRow:
    """What `drift --fix` did for one lagging consumer."""

    consumer: str
    """The consumer's name."""
    result: Outcome
    """`healed`, `lagging` (still: not attempted, pull request open, dispatch pending), `held`
    or `failed`."""
    reason: str
    """Why, in one line."""
    commit: str | None = None
    """The commit the cascade pushed, if any."""
    url: str | None = None
    """The pull request it opened, if any."""


@dataclass(frozen=True)
class HealReport:
    """The whole heal."""

    version: str
    """The latest release the consumers were cascaded to."""
    rows: tuple[HealRow, ...]
    """One row per lagging consumer, in file order."""
    cascade: CascadeReport | None
    """The cascade run (None when nothing was attempted)."""
    converge: ConvergeReport | None
    """The read-back of what the cascade bumped (None when it bumped nothing)."""

    def count(self, result: Outcome) -> int:
        """How many rows ended as ``result``."""
        return sum(r.result == result for r in self.rows)


def pick(report: DriftReport, max_count: int | None) -> tuple[list[str], list[str]]:
    """Split the healable consumers into the ones to cascade now and the ones left for later."""
    lagging = [r.consumer for r in report.rows if r.result in HEALABLE]
    if max_count is None:
        return lagging, []
    return lagging[:max_count], lagging[max_count:]


def heal(
    consumers: ConsumerList,
    report: DriftReport,
    *,
    max_count: int | None = None,
    jobs: int | None = None,
    token: str | None = None,
    compat: CompatSource | None = None,
    attempts: int = ATTEMPTS,
    progress: bool = False,
) -> HealReport:
    """Cascade the lagging consumers of ``report`` to its latest release and converge them."""
    chosen, later = pick(report, max_count)
    version = report.latest
    order = {name: index for index, name in enumerate(c.name for c in consumers.consumers)}
    # Lagging consumers the check already found held stay held: the heal never touches them.
    deferred = [
        HealRow(r.consumer, Outcome.HELD, r.reason) for r in report.rows
        if r.result == Outcome.HELD
    ]
    deferred += [
        HealRow(name, Outcome.LAGGING, f"not attempted: --max {max_count} reached")
        for name in later
    ]
    if not chosen:
        ordered = sorted(deferred, key=lambda r: order.get(r.consumer, len(order)))
        return HealReport(version, tuple(ordered), None, None)
    targets = [consumers.named(name) for name in chosen]
    cascaded = cascade_all(
        targets, version, jobs=jobs, token=token, attempts=attempts, compat=compat,
        progress=progress,
    )
    landed = [
        consumers.named(r.consumer)
        for r in cascaded.rows
        if r.result in {Outcome.UPDATED, Outcome.CURRENT}
    ]
    read = (
        converge_all(landed, version, jobs=jobs, token=token, compat=compat, progress=progress)
        if landed
        else None
    )
    back = {r.consumer: r for r in read.rows} if read else {}
    modes = {c.name: c.mode for c in targets}
    rows = [_outcome(row, back.get(row.consumer), modes[row.consumer]) for row in cascaded.rows]
    every = sorted([*rows, *deferred], key=lambda r: order.get(r.consumer, len(order)))
    return HealReport(version, tuple(every), cascaded, read)


def _outcome(row: CascadeRow, read: ConvergeRow | None, mode: str) -> HealRow:
    """One consumer's end state from its cascade row and its read-back."""
    name = row.consumer
    if row.result in {Outcome.HELD, Outcome.FAILED}:
        return HealRow(name, row.result, row.reason, row.commit, row.url)
    if row.result == Outcome.SKIPPED:
        return HealRow(name, Outcome.LAGGING, f"not cascaded: {row.reason}")
    if read is None:
        return HealRow(name, Outcome.FAILED, "not read back", row.commit, row.url)
    if read.result == Outcome.CONVERGED:
        return HealRow(name, Outcome.HEALED, f"{row.reason}; {read.reason}", row.commit, row.url)
    if read.result == Outcome.PENDING or (mode == "dispatch" and read.result == Outcome.DIVERGED):
        reason = f"{row.reason}; waits for the consumer: {read.reason}"
        return HealRow(name, Outcome.LAGGING, reason, row.commit, row.url)
    return HealRow(name, Outcome.FAILED, f"read back: {read.reason}", row.commit, row.url)


def exit_code(report: DriftReport, healed: HealReport | None, *, allow_held: bool) -> int:
    """The exit code of `drift` (with ``healed`` after `--fix`).

    2 on a real error (a read error, a failed heal), 1 while a pin still lags (or a blind spot
    exists), 3 when held consumers are all that is wrong (0 with ``allow_held``), else 0.
    """
    fixed = {r.consumer for r in healed.rows if r.result == Outcome.HEALED} if healed else set()
    failed = healed is not None and any(r.result == Outcome.FAILED for r in healed.rows)
    if report.errors or failed or any(r.result == Outcome.ERROR for r in report.rows):
        return 2
    lagging = [r for r in report.rows if r.result in LAGGING and r.consumer not in fixed]
    if report.blind_spots or lagging:
        return 1
    held = any(r.result == Outcome.HELD for r in report.rows) or (
        healed is not None and any(r.result == Outcome.HELD for r in healed.rows)
    )
    return HELD_EXIT if held and not allow_held else 0
