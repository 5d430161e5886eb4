"""Read every published file back from the index and prove its bytes are the built ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.index import index_url_from_env, read_project
from tooling.release.dists import release_of
from tooling.release.retry import RetryPolicy, download
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["ReadBackReport", "VerifiedFile", "read_back"]


@dataclass(frozen=True)
class VerifiedFile:
    """One file read back from the index and found identical to the built one."""

    filename: str
    """Its file name."""
    sha256: str
    """The sha256 of the downloaded bytes, equal to the local file's."""
    url: str
    """Where the index serves it (secrets scrubbed)."""
    stated_sha256: str | None
    """The sha256 the index itself states for it, when it states one."""


@dataclass(frozen=True)
class ReadBackReport:
    """Proof that the index serves exactly what was built."""

    project: str
    """The normalized project name."""
    version: str
    """The version read back."""
    index_url: str
    """The simple API root read (secrets scrubbed)."""
    files: tuple[VerifiedFile, ...]
    """Every file, in the order given."""



def read_back(
    paths: Sequence[Path], *, index_url: str | None = None, policy: RetryPolicy | None = None
) -> ReadBackReport:
    """Download every file of ``paths`` from the index and prove its bytes are the built ones."""
    policy = policy or RetryPolicy()
    project, version = release_of(paths)
    index = index_url or index_url_from_env()
    if not index:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    listing = read_project(index, project, attempts=policy.attempts, backoff=policy.backoff)
    served = {f.filename: f for f in listing.files}
    verified = []
    for path in paths:
        sha = sha256_of(path)
        entry = served.get(path.name)
        if entry is None:
            raise ToolingError(
                redact(f"{path.name}: not served by {index} after upload; check RUNTIME_INDEX_URL")
            )
        if entry.sha256 is not None and entry.sha256 != sha:
            raise ToolingError(
                f"{path.name}: the index states sha256 {entry.sha256[:12]}..., built "
                f"{sha[:12]}...; the index does not serve what was built"
            )
        downloaded = download(entry.url, policy)
        if downloaded != sha:
            raise ToolingError(
                f"{path.name}: downloaded bytes hash to {downloaded[:12]}..., built "
                f"{sha[:12]}...; the index does not serve what was built"
            )
        verified.append(VerifiedFile(path.name, downloaded, redact(entry.url), entry.sha256))
    return ReadBackReport(project, version, redact(index), tuple(verified))
