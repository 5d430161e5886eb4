"""An in-process event bus: the runtime's parts announce what happened; others listen.

Handlers run synchronously in the publishing thread. A failing handler is logged and skipped,
so an observer (a plugin, the audit log) can never break task handling. The bus keeps the last
events for the pre-stop snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Event", "EventBus", "Handler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something that happened in the runtime."""

    kind: str
    """Dotted name, e.g. `task.completed`, `heartbeat.failed`, `runtime.stopping`."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Details; JSON-serialisable, never message content or secrets."""
    at: float = field(default_factory=time.time)
    """Wall-clock time of publication (seconds since the epoch)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"kind": self.kind, "at": round(self.at, 3), "data": dict(self.data)}


Handler = Callable[[Event], None]
"""What a subscriber is: called with each event, its return value ignored."""


class EventBus:
    """Publish/subscribe by event kind; `*` subscribes to everything."""

    def __init__(self, keep: int = 100) -> None:
        """Remember the last ``keep`` events."""
        self._handlers: dict[str, list[Handler]] = {}
        self._recent: deque[Event] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def subscribe(self, kind: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event of ``kind``; returns a function that unsubscribes."""
        with self._lock:
            self._handlers.setdefault(kind, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(kind, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def publish(self, kind: str, **data: Any) -> Event:
        """Record an event and hand it to its subscribers."""
        event = Event(kind, data)
        with self._lock:
            self._recent.append(event)
            handlers = [*self._handlers.get(kind, ()), *self._handlers.get("*", ())]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, kind)
        return event

    def recent(self, kind_prefix: str = "") -> list[Event]:
        """The remembered events, oldest first, optionally only those whose kind starts so."""
        with self._lock:
            return [e for e in self._recent if e.kind.startswith(kind_prefix)]
