"""An append-only audit log: one JSON object per line, what happened and when, never content.

Records say who asked for what, how big it was and how it ended; they never hold message text
or credentials, so the log can be shipped to wherever operators read it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "read_audit"]

# Keys whose values must never reach the log, however a caller names them.
_SECRET_KEYS = frozenset({"token", "authorization", "password", "secret", "api_key", "text"})


class AuditLog:
    """Appends audit records to a JSON-lines file; in memory only when no path is given."""

    def __init__(self, path: Path | None = None, *, keep: int = 1000) -> None:
        """Log to ``path`` (created with its directory); keep the last ``keep`` records."""
        self.path = path
        self._keep = keep
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, action: str, **fields: Any) -> dict[str, Any]:
        """Append one record: ``action`` plus ``fields`` (secret-looking keys are dropped)."""
        entry: dict[str, Any] = {"at": round(time.time(), 3), "action": action}
        entry.update({k: v for k, v in fields.items() if k.lower() not in _SECRET_KEYS})
        line = json.dumps(entry, sort_keys=True, default=str)
        with self._lock:
            self._records.append(entry)
            del self._records[: -self._keep]
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        return entry

    def records(self, action: str | None = None) -> list[dict[str, Any]]:
        """The records kept in memory, oldest first, optionally only one action."""
        with self._lock:
            return [dict(r) for r in self._records if action is None or r["action"] == action]


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record in an audit file, oldest first."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
