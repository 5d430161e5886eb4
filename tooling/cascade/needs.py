"""Declared needs at the cascade: hold a consumer the release does not serve (docs/cascade.md).

A consumer may keep a `runtime-needs.toml` at its repository root (the format `invoke compat
--check` reads, tooling.needs).  Before anything is written there, its needs are checked
against the release's `compat.json`, taken from the release's own wheel: the one in `dist/`
whose file name carries that version (the release just built it), else the wheel of that
version on the index (`RUNTIME_INDEX_URL`), downloaded and checked against the sha256 the
index states.  It is fetched once per run and only when some consumer declares needs.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tooling.cascade.pins import DISTRIBUTION
from tooling.errors import ToolingError
from tooling.index import read_project, version_of_filename
from tooling.needs import check_needs, parse_needs, read_compat
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CompatSource", "held_reason"]

_TIMEOUT = 60.0


@dataclass
class CompatSource:
    """Where the release's compat.json comes from; read lazily, once, from any thread."""

    version: str
    """The release whose compat.json is wanted."""
    path: Path | None = None
    """An explicit compat.json or wheel (`--compat`); wins over the others."""
    dist: Path | None = Path("dist")
    """The build output to look for the release's wheel in (None: do not look)."""
    index_url: str | None = None
    """The simple API root to download the wheel from when `dist/` has none."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cached: dict[str, object] | None = field(default=None, repr=False)
    _failure: str | None = field(default=None, repr=False)

    def get(self) -> Mapping[str, object]:
        """Return the release's compat data; raise ToolingError naming where it was looked for."""
        with self._lock:
            if self._cached is None and self._failure is None:
                try:
                    self._cached = self._load()
                except ToolingError as exc:
                    self._failure = exc.message
            if self._cached is None:
                raise ToolingError(str(self._failure))
            return self._cached

    def _load(self) -> dict[str, object]:
        if self.path is not None:
            return self._checked(read_compat(self.path), str(self.path))
        wheel = self._dist_wheel()
        if wheel is not None:
            return self._checked(read_compat(wheel), str(wheel))
        if self.index_url:
            return self._from_index(self.index_url)
        where = f"{self.dist}/" if self.dist is not None else "no dist/"
        raise ToolingError(
            f"no compat.json for {self.version}: no wheel of it in {where} and no index "
            "(set RUNTIME_INDEX_URL or pass --compat)"
        )

    def _checked(self, data: dict[str, object], where: str) -> dict[str, object]:
        stated = data.get("runtime_version")
        if stated is not None and str(stated) != self.version:
            raise ToolingError(
                f"{where}: compat.json is for {stated}, not {self.version}; pass the right one"
            )
        return data

    def _dist_wheel(self) -> Path | None:
        if self.dist is None or not self.dist.is_dir():
            return None
        for wheel in sorted(self.dist.glob("*.whl")):
            if version_of_filename(wheel.name) == self.version:
                return wheel
        return None

    def _from_index(self, index_url: str) -> dict[str, object]:
        files = read_project(index_url, DISTRIBUTION).files_for(self.version)
        wheels = [f for f in files if f.filename.endswith(".whl")]
        if not wheels:
            raise ToolingError(
                f"{index_url}: serves no wheel of {DISTRIBUTION} {self.version} to read "
                "compat.json from"
            )
        chosen = wheels[0]
        try:
            response = httpx.get(chosen.url, follow_redirects=True, timeout=_TIMEOUT)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ToolingError(redact(f"{chosen.url}: download failed: {exc}")) from exc
        data = response.content
        if chosen.sha256 and hashlib.sha256(data).hexdigest() != chosen.sha256:
            raise ToolingError(f"{chosen.url}: sha256 differs from what the index states")
        with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
            wheel = Path(tmp) / chosen.filename
            wheel.write_bytes(data)
            return self._checked(read_compat(wheel), chosen.url)


def held_reason(needs: bytes, where: str, compat: CompatSource) -> str | None:
    """Return why the release does not serve a consumer declaring ``needs``, None if it does.

    ``where`` names the file for messages.  A needs file that cannot be read raises
    ToolingError (the consumer fails; its declaration needs fixing); a compat.json that cannot
    be found holds the consumer: nothing is written that nobody could check.
    """
    try:
        text = needs.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolingError(f"{where}: not UTF-8 text") from exc
    declared = parse_needs(text, where)
    if not declared:
        return None
    try:
        data = compat.get()
    except ToolingError as exc:
        return f"declares needs in {where} but they cannot be checked: {exc.message}"
    check = check_needs(where, declared, data)
    unmet = [r for r in check.results if not r.satisfied]
    if not unmet:
        return None
    said = "; ".join(f"{r.need}: {r.reason}" for r in unmet)
    return f"{compat.version} does not meet {where}: {said}"
