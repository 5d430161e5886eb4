"""The content-addressed cache: an unchanged file is never parsed twice (issue 2 "Speed").

Key: the file's bytes, the name set, the watched words, the package and ``tooling.__version__``
(bump it whenever a change alters any output).  An entry is one file: a JSON header line, then
the rewritten bytes when the file changed.  Entries are written atomically, so a crashed or
concurrent run can leave only complete entries; a corrupt one is treated as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import tooling
from tooling.rewrite._source import ImportRef, SourceResult

__all__ = ["Cache"]


class Cache:
    """Rewrite results by content hash under one directory."""

    def __init__(self, directory: Path) -> None:
        """Use (and create on first write) ``directory``."""
        self.directory = Path(directory)
        self._salt: dict[tuple[frozenset[str], str, frozenset[str]], bytes] = {}

    def key(self, code: bytes, names: frozenset[str], package: str, watch: frozenset[str]) -> str:
        """The entry key for ``code`` rewritten with these settings."""
        salt = self._salt.get((names, package, watch))
        if salt is None:
            fields = (tooling.__version__, package, *sorted(names), "\0", *sorted(watch))
            setting = "\0".join(fields)
            salt = hashlib.blake2b(setting.encode(), digest_size=16).digest()
            self._salt[(names, package, watch)] = salt
        return hashlib.blake2b(code, digest_size=20, key=salt).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def get(self, key: str) -> SourceResult | None:
        """The cached result, or None on a miss (or an unreadable entry)."""
        try:
            data = self._path(key).read_bytes()
            header, _, code = data.partition(b"\n")
            meta = json.loads(header)
            imports = tuple(
                ImportRef(line, col, level, module, tuple(names))
                for line, col, level, module, names in meta["imports"]
            )
            return SourceResult(
                code=code,
                changed=bool(meta["changed"]),
                references=dict(meta["references"]),
                imports=imports,
                parsed=bool(meta.get("parsed", True)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result: SourceResult) -> None:
        """Store ``result`` (best effort: a read-only cache dir only costs speed)."""
        meta = {
            "changed": result.changed,
            "parsed": result.parsed,
            "references": dict(result.references),
            "imports": [[i.line, i.col, i.level, i.module, list(i.names)] for i in result.imports],
        }
        body = json.dumps(meta, separators=(",", ":")).encode() + b"\n"
        if result.changed:
            body += result.code
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            Path(temp).replace(path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                Path(temp).unlink()
