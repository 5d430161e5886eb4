"""A SQLite-backed memory store: key/value notes per namespace, with text search.

`MemoryStore` is the object the runtime passes to adapters. The module-level `store`,
`recall`, `search` and `forget` act on a default store: the one the runtime hands to
`configure` at start-up, else one opened on first use at `MOLECULE_MEMORY_PATH`, else in memory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MEMORY_PATH_ENV",
    "MemoryItem",
    "MemoryStore",
    "MemoryStoreError",
    "configure",
    "default_store",
    "forget",
    "recall",
    "search",
    "store",
]

MEMORY_PATH_ENV = "MOLECULE_MEMORY_PATH"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS memories_updated ON memories (namespace, updated_at);
"""
_COLUMNS = "namespace, key, value, created_at, updated_at"


class MemoryStoreError(RuntimeError):
    """The database cannot be opened or is from a newer runtime; the message names it."""


@dataclass(frozen=True)
class MemoryItem:
    """One remembered value."""

    namespace: str
    """The namespace it lives in (`default` unless given)."""
    key: str
    """Its key, unique within the namespace."""
    value: Any
    """The value as stored: anything JSON can represent."""
    created_at: float
    """When the key was first stored (seconds since the epoch)."""
    updated_at: float
    """When the value last changed."""


class MemoryStore:
    """Key/value memory in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        """Open (creating if needed) the database at ``path``."""
        self.path = str(path)
        in_memory = self.path == ":memory:"
        if not in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: the HTTP server calls in from many threads.
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"memory store {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        try:
            self._migrate(in_memory)
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self, in_memory: bool) -> None:
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                msg = f"memory store {self.path} has schema {version}, newer than {_SCHEMA_VERSION}"
                raise MemoryStoreError(msg + "; upgrade the runtime or point data_dir elsewhere")
            if not in_memory:
                # WAL lets a second process (an operator's sqlite3 shell) read while we write.
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"memory store {self.path}: {exc}") from exc

    def __enter__(self) -> MemoryStore:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    def close(self) -> None:
        """Close the database; closing twice is harmless."""
        with self._lock:
            self._conn.close()

    def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, args).fetchone()
        return row

    def store(self, key: str, value: Any, *, namespace: str = "default") -> MemoryItem:
        """Remember ``value`` under ``key``, replacing any earlier value."""
        if not isinstance(key, str) or not key:
            raise ValueError("memory key must be a non-empty string")
        encoded = json.dumps(value, sort_keys=True)
        now = time.time()
        with self._lock:
            self._conn.execute(
                f"INSERT INTO memories ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (namespace, key, encoded, now, now),
            )
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
        return _item(row)

    def recall(self, key: str, *, namespace: str = "default") -> MemoryItem | None:
        """The item stored under ``key``, or None."""
        row = self._one(
            f"SELECT {_COLUMNS} FROM memories WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return _item(row) if row else None

    def search(self, text: str, *, namespace: str = "default", limit: int = 10) -> list[MemoryItem]:
        """Items whose key or value contains ``text`` (case-insensitive for ASCII), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM memories "
                "WHERE namespace = ? AND (key LIKE ? ESCAPE '\\' OR value LIKE ? ESCAPE '\\') "
                "ORDER BY updated_at DESC, key LIMIT ?",
                (namespace, pattern, pattern, limit),
            ).fetchall()
        return [_item(row) for row in rows]

    def forget(self, key: str, *, namespace: str = "default") -> bool:
        """Drop ``key``; True if it was there."""
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM memories WHERE namespace = ? AND key = ?", (namespace, key)
            )
        return cursor.rowcount > 0

    def keys(self, *, namespace: str = "default") -> list[str]:
        """Every key in ``namespace``, sorted."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM memories WHERE namespace = ? ORDER BY key", (namespace,)
            ).fetchall()
        return [row[0] for row in rows]

    def stats(self) -> dict[str, int]:
        """Item count per namespace, for the snapshot."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT namespace, COUNT(*) FROM memories GROUP BY namespace ORDER BY namespace"
            ).fetchall()
        return dict(rows)


def _item(row: tuple[Any, ...]) -> MemoryItem:
    namespace, key, value, created_at, updated_at = row
    return MemoryItem(namespace, key, json.loads(value), created_at, updated_at)


_default_store: MemoryStore | None = None
_default_path: str | None = None
_default_owned = False  # opened here from a path, so closed here too
_default_lock = threading.Lock()


def configure(target: MemoryStore | Path | str | None) -> None:
    """Point the default store at a store or a path (None: back to the environment or memory).

    A default store this module opened itself is closed; a store handed in stays its owner's.
    """
    global _default_store, _default_path, _default_owned  # noqa: PLW0603 - module-level API
    with _default_lock:
        if _default_store is not None and _default_owned and _default_store is not target:
            _default_store.close()
        if isinstance(target, MemoryStore):
            _default_store, _default_path = target, target.path
        else:
            _default_store = None
            _default_path = str(target) if target is not None else None
        _default_owned = False


def default_store() -> MemoryStore:
    """The store the module-level functions use, opened on first use."""
    global _default_store, _default_owned  # noqa: PLW0603 - module-level API
    with _default_lock:
        if _default_store is None:
            _default_store = MemoryStore(
                _default_path or os.environ.get(MEMORY_PATH_ENV) or ":memory:"
            )
            _default_owned = True
        return _default_store


def store(key: str, value: Any, *, namespace: str = "default") -> MemoryItem:
    """Remember ``value`` under ``key`` in the default store."""
    return default_store().store(key, value, namespace=namespace)


def recall(key: str, *, namespace: str = "default") -> MemoryItem | None:
    """The item under ``key`` in the default store, or None."""
    return default_store().recall(key, namespace=namespace)


def search(text: str, *, namespace: str = "default", limit: int = 10) -> list[MemoryItem]:
    """Search the default store."""
    return default_store().search(text, namespace=namespace, limit=limit)


def forget(key: str, *, namespace: str = "default") -> bool:
    """Drop ``key`` from the default store."""
    return default_store().forget(key, namespace=namespace)
