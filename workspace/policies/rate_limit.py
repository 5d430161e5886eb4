"""A token-bucket rate limit on incoming tasks."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from policies import PolicyDenied

if TYPE_CHECKING:
    from adapters.base import TaskRequest

__all__ = ["RateLimit"]


class RateLimit:
    """Accepts ``per_second`` tasks on average and bursts of up to ``burst``."""

    name = "rate_limit"

    def __init__(self, per_second: float, burst: int) -> None:
        """Start with a full bucket."""
        self.per_second = per_second
        self.burst = burst
        self._tokens = float(burst)
        # Monotonic: a wall-clock jump must neither refill nor drain the bucket.
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def check(self, request: TaskRequest) -> None:
        """Take one token, or refuse with the time until the next one."""
        del request  # every task costs the same
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_second)
            self._last = now
            if self._tokens < 1:
                wait = (1 - self._tokens) / self.per_second
                raise PolicyDenied(self.name, f"too many tasks; retry in {wait:.1f}s")
            self._tokens -= 1
