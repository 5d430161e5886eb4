"""Support for the fleet tests: release wheels that carry compat.json, repository snapshots.

Imported by test modules as ``fleet`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

WHEEL = "molecule_ai_workspace_runtime-{}-py3-none-any.whl"
NEEDS_UNMET = 'adapter-protocol = ">=3"\n'
"""A runtime-needs.toml the releases below do not meet (they speak adapter protocol 2)."""


def compat(version: str) -> dict[str, object]:
    """A release's compat.json as the build writes it."""
    return {
        "compat_format": 1,
        "runtime_version": version,
        "requires_python": ">=3.11",
        "distribution": "molecule-ai-workspace-runtime",
        "package": "molecule_runtime",
        "adapter_protocol_version": 2,
        "plugin_api_version": "1.3",
        "api_fingerprint": "sha256:" + "ab" * 32,
    }


def write_wheel(directory: Path, version: str) -> Path:
    """A wheel of the runtime carrying only its compat.json (all the cascade reads)."""
    wheel = directory / WHEEL.format(version)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("molecule_runtime/__init__.py", "")
        archive.writestr("molecule_runtime/compat.json", json.dumps(compat(version)))
    return wheel


def repo_bytes(bare: Path) -> dict[str, bytes]:
    """Every file of a bare repository: equal before and after means untouched."""
    files = sorted(p for p in bare.rglob("*") if p.is_file())
    return {str(p.relative_to(bare)): p.read_bytes() for p in files}
