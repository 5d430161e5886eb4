"""Heartbeats: tell the platform, every few seconds, that this workspace is alive.

A background thread calls `send(payload)`; failures are logged, published as events and
retried on the next beat, never raised. Time is measured with `time.monotonic` so a clock
change cannot silence or flood the platform.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from events import EventBus

__all__ = ["Heartbeat", "HeartbeatStatus"]

log = logging.getLogger(__name__)

# A heartbeat that has not succeeded for this many intervals is stale.
_STALE_AFTER = 3


@dataclass(frozen=True)
class HeartbeatStatus:
    """How the heartbeat is doing."""

    sent: int
    """Beats the platform accepted."""
    failed: int
    """Beats that failed."""
    seconds_since_ok: float | None
    """Seconds since the last accepted beat; None before the first."""
    stale: bool
    """Whether the platform has probably marked this workspace offline."""


class Heartbeat:
    """Sends a beat every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(
        self,
        send: Callable[[Mapping[str, Any]], None],
        payload: Callable[[], Mapping[str, Any]],
        interval: float,
        events: EventBus | None = None,
    ) -> None:
        """Beat by calling ``send(payload())``."""
        self._send = send
        self._payload = payload
        self.interval = interval
        self._events = events
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._last_ok: float | None = None
        self._sent = 0
        self._failed = 0
        self._lock = threading.Lock()

    def beat(self) -> bool:
        """Send one beat now; True if the platform accepted it."""
        try:
            self._send(self._payload())
        except Exception as exc:  # noqa: BLE001 - any failure is retried on the next beat
            with self._lock:
                self._failed += 1
                failures = self._failed
            log.warning("heartbeat failed (%d so far): %s", failures, exc)
            if self._events is not None:
                self._events.publish("heartbeat.failed", error=str(exc))
            return False
        with self._lock:
            self._sent += 1
            self._last_ok = time.monotonic()
        if self._events is not None:
            self._events.publish("heartbeat.sent")
        return True

    def status(self) -> HeartbeatStatus:
        """Counts and staleness as of now."""
        now = time.monotonic()
        with self._lock:
            since = None if self._last_ok is None else now - self._last_ok
            reference = self._last_ok if self._last_ok is not None else self._started
            return HeartbeatStatus(
                sent=self._sent,
                failed=self._failed,
                seconds_since_ok=since,
                stale=now - reference > _STALE_AFTER * self.interval,
            )

    def start(self) -> None:
        """Beat once now, then every interval on a background thread."""
        if self._thread is not None:
            raise RuntimeError("heartbeat already started")
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.beat()
        # Event.wait doubles as the sleep and the stop signal: stop() wakes it at once.
        while not self._stop.wait(self.interval):
            self.beat()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop beating and wait for the thread to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
