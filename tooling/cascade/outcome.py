"""The one place the consumer states are named: what cascade, converge and drift report.

A `StrEnum`, so a row's `result` prints, compares and serialises to JSON as its plain name
(docs/cascade.md lists what each means).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HELD_EXIT", "Outcome"]

HELD_EXIT = 3
"""Exit code of cascade, converge and drift when held consumers are all that is wrong."""


class Outcome(StrEnum):
    """What happened to (or was found at) one consumer."""

    UPDATED = "updated"
    """cascade: the bump landed (pushed, pull request opened, dispatch sent)."""
    CURRENT = "current"
    """cascade: already at the version, nothing written; drift: at the latest release."""
    SKIPPED = "skipped"
    """Not touched: exempt, no release workflow, or no `CASCADE_TOKEN` for it."""
    HELD = "held"
    """The release does not meet a need the consumer declares: nothing written."""
    FAILED = "failed"
    """cascade: the bump could not land, or the pin could not be written safely."""
    CONVERGED = "converged"
    """converge: the remote pin shows the version."""
    PENDING = "pending"
    """converge: the bump waits in an open pull request."""
    DIVERGED = "diverged"
    """converge: the remote pin shows another version."""
    MISSING = "missing"
    """converge, drift: a consumer with a release workflow pins nothing."""
    ERROR = "error"
    """converge, drift: the remote could not be read."""
    AHEAD = "ahead"
    """drift: pins a published version newer than the latest final release."""
    LAGGING = "lagging"
    """drift: pins an older release."""
    UNPUBLISHED = "unpublished"
    """drift: pins a version the index does not serve."""
    INVALID = "invalid"
    """drift: the pin is not a release version, or not a regular file."""
    HEALED = "healed"
    """drift --fix: was lagging, cascaded and read back at the latest release."""
