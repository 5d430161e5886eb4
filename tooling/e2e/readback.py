"""What the sandboxed release made: read back, checked, and summarised.

Each item is read from where it lives: the remote, the index and each consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.config import load_config
from tooling.e2e.sandbox import CONSUMERS, ConsumerSpec, expected_version, git
from tooling.errors import ToolingError
from tooling.index import read_project
from tooling.release.readback import read_back
from tooling.release.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from tooling.e2e.index import LocalIndex

__all__ = ["E2EResult", "find_problems", "print_summary", "read_back_all"]


@dataclass(frozen=True)
class E2EResult:
    """What the sandboxed release made, each item read back from where it lives."""

    version: str
    """``[project] version`` in the sandbox clone after the release."""
    tag: str
    """The release tag."""
    tag_commit: str | None
    """The commit the tag points at on the bare remote (None: not there)."""
    files: tuple[tuple[str, str], ...]
    """(file name, sha256 of the downloaded bytes) for each file the index serves."""
    pins: tuple[tuple[str, str], ...]
    """(consumer, first line of its pin file on its remote) for each consumer."""
    release_seconds: float
    """Wall time of ``invoke release``."""
    on_merge: str = ""
    """What ``invoke release --on-merge`` then released for a labelled merge (version, label)."""


def _remote_pin(bare: Path, env: Mapping[str, str]) -> str:
    text = git(bare, env, "show", "main:.runtime-version")
    return text.splitlines()[0].strip() if text else ""


def read_back_all(clone: Path, index: LocalIndex, consumers: Mapping[str, Path],
                   env: Mapping[str, str], seconds: float) -> E2EResult:
    """Read the tag, the index's files and each consumer's pin back after the release."""
    config = load_config(clone)
    tag = config.tag_for(config.version)
    peeled = git(clone, env, "ls-remote", "origin", f"refs/tags/{tag}^{{}}")
    listing = read_project(index.simple_url, config.name)
    built = sorted((clone / ".release" / config.version / "dist").iterdir())
    verified = read_back(built, index_url=index.simple_url, policy=RetryPolicy(3, 0.2))
    served = {f.filename for f in listing.files_for(config.version)}
    if served != {p.name for p in built}:
        raise ToolingError(f"the index serves {sorted(served)}, the release built "
                           f"{sorted(p.name for p in built)}")
    return E2EResult(
        version=config.version,
        tag=tag,
        tag_commit=peeled.split()[0] if peeled else None,
        files=tuple((f.filename, f.sha256) for f in verified.files),
        pins=tuple((name, _remote_pin(bare, env)) for name, bare in consumers.items()),
        release_seconds=round(seconds, 1),
    )


def find_problems(result: E2EResult, before: str, consumers: Sequence[ConsumerSpec]) -> list[str]:
    """What in ``result`` differs from what the release should have made (empty: all good)."""
    problems = []
    if result.version != expected_version(before):
        problems.append(f"version {result.version}, expected {expected_version(before)}")
    if result.tag_commit is None:
        problems.append(f"tag {result.tag} is not on the remote")
    pins = dict(result.pins)
    for spec in consumers:
        want = result.version if spec.workflows else before
        if pins.get(spec.name) != want:
            problems.append(f"consumer {spec.name} pins {pins.get(spec.name)}, expected {want}")
    return problems


def print_summary(result: E2EResult, before: str) -> None:
    """Print what the release made, one row per item."""
    rows = [("version", f"{before} -> {result.version}"),
            ("tag", f"{result.tag} at {(result.tag_commit or 'MISSING')[:12]} on the remote")]
    rows += [(f"index: {name}", f"sha256 {sha}") for name, sha in result.files]
    skipped = {s.name for s in CONSUMERS if not s.workflows}
    rows += [(f"pin: {name}", pin + (" (no release workflow: skipped)" if name in skipped else ""))
             for name, pin in result.pins]
    rows.append(("invoke release", f"{result.release_seconds}s"))
    if result.on_merge:
        rows.append(("invoke release --on-merge", result.on_merge))
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")

