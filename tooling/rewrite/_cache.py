"""The content-addressed cache: an unchanged file is never parsed twice (docs/rewrite.md, "Speed").

Key: the file's bytes, keyed by a salt of the name set, the watched words, the package, the
marshal format and ``tool_fingerprint()`` (``tooling.__version__`` plus the rewriter's own
source, so an edited rewriter never serves results of the old one).
All entries of one salt live in ONE index file, read once per run and rewritten (atomically)
only when a run added entries, so a warm run costs one read instead of one per file.  An entry
holds the result's metadata and, when the file changed, its rewritten bytes.  A corrupt or
foreign index is treated as empty.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import tooling
from tooling.rewrite._source import ImportRef, SourceResult

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Cache", "content_digest", "load_marshalled", "store_marshalled", "tool_fingerprint"]

_FORMAT = b"rewrite-cache-2"
# Keep entries the current tree no longer uses (another branch) up to this many per used one.
_KEEP_UNUSED = 3

_Setting: TypeAlias = tuple[frozenset[str], str, frozenset[str]]
_Entry: TypeAlias = tuple[
    bool, bool, tuple[tuple[str, int], ...],
    tuple[tuple[int, int, int, str, tuple[str, ...]], ...], bytes | None,
]


def content_digest(code: bytes) -> bytes:
    """The digest that identifies a file's content everywhere in the rewriter."""
    return hashlib.blake2b(code, digest_size=20).digest()


@functools.cache
def tool_fingerprint() -> str:
    """``tooling.__version__`` and a digest of this package's source: what made the output."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{tooling.__version__}+{digest.hexdigest()}"


def load_marshalled(path: Path, magic: bytes) -> object:
    """The object stored by ``store_marshalled`` under ``magic``, or None (absent, corrupt)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(magic + b"\n"):
        return None
    try:
        # Our own cache, written only by this tool; marshal builds plain values, runs no code.
        return marshal.loads(data[len(magic) + 1 :])  # noqa: S302
    except (ValueError, EOFError, TypeError):
        return None


def store_marshalled(path: Path, magic: bytes, value: object) -> None:
    """Write ``value`` atomically (best effort: an unwritable cache only costs speed)."""
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            # Callers pass plain tuples/dicts/bytes/str/ints; typeshed's alias for that is private.
            fh.write(magic + b"\n" + marshal.dumps(value))  # type: ignore[arg-type]
        Path(temp).replace(path)
    except OSError:
        if temp is not None:
            with contextlib.suppress(OSError):
                Path(temp).unlink()


def _to_entry(result: SourceResult) -> _Entry:
    return (
        result.changed,
        result.parsed,
        tuple(sorted(result.references.items())),
        tuple((i.line, i.col, i.level, i.module, i.names) for i in result.imports),
        result.code if result.changed else None,
    )


def _from_entry(entry: _Entry, code: bytes) -> SourceResult:
    changed, parsed, references, imports, new = entry
    return SourceResult(
        code=new if changed and new is not None else code,
        changed=changed,
        references=dict(references),
        imports=tuple(ImportRef(*i) for i in imports),
        parsed=parsed,
    )


class _Index:
    """The entries of one salt: loaded once, saved once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        stored = load_marshalled(path, _FORMAT)
        self.entries: dict[bytes, _Entry] = stored if isinstance(stored, dict) else {}
        self.used: set[bytes] = set()
        self.added = False


class Cache:
    """Rewrite results by content hash, one index file per setting under ``directory``."""

    def __init__(self, directory: Path) -> None:
        """Use (and create on first write) ``directory``."""
        self.directory = Path(directory)
        self._salts: dict[_Setting, bytes] = {}
        self._indexes: dict[bytes, _Index] = {}

    def key(
        self, digest: bytes, names: frozenset[str], package: str, watch: frozenset[str]
    ) -> bytes:
        """The entry key for content ``digest`` rewritten with these settings (salt + hash)."""
        setting = (names, package, watch)
        salt = self._salts.get(setting)
        if salt is None:
            fields = (tool_fingerprint(), str(marshal.version), sys.implementation.cache_tag
                      or "", package, *sorted(names), "\0", *sorted(watch))
            salt = hashlib.blake2b("\0".join(fields).encode(), digest_size=16).digest()
            self._salts[setting] = salt
        return salt + hashlib.blake2b(digest, digest_size=20, key=salt).digest()

    def _index(self, key: bytes) -> _Index:
        salt = key[:16]
        index = self._indexes.get(salt)
        if index is None:
            index = _Index(self.directory / f"index-{salt.hex()}.bin")
            self._indexes[salt] = index
        return index

    def get(self, key: bytes, code: bytes) -> SourceResult | None:
        """The cached result for ``code`` under ``key``, or None on a miss."""
        index = self._index(key)
        entry = index.entries.get(key[16:])
        if entry is None:
            return None
        try:
            result = _from_entry(entry, code)
        except (TypeError, ValueError):
            return None
        index.used.add(key[16:])
        return result

    def put(self, key: bytes, result: SourceResult) -> None:
        """Remember ``result``; ``save`` writes it."""
        index = self._index(key)
        index.entries[key[16:]] = _to_entry(result)
        index.used.add(key[16:])
        index.added = True

    def save(self) -> None:
        """Write every index that gained entries, dropping surplus entries nothing used."""
        for index in self._indexes.values():
            if not index.added:
                continue
            # Least recently used first (dicts keep order); the surplus of those goes.
            unused = [k for k in index.entries if k not in index.used]
            keep = unused[max(0, len(unused) - _KEEP_UNUSED * max(len(index.used), 1)):]
            entries: Mapping[bytes, _Entry] = {
                k: index.entries[k] for k in (*keep, *(k for k in index.entries
                                                         if k in index.used))
            }
            store_marshalled(index.path, _FORMAT, dict(entries))
            index.added = False
