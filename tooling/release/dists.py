"""The files of one release: wheels and sdists, and the project and version they carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tooling.errors import ToolingError
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["dist_files", "name_and_version", "release_of"]


def name_and_version(path: Path) -> tuple[str, str]:
    """The project name and version a wheel's or sdist's file name carries."""
    try:
        if path.name.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(path.name)
        elif path.name.endswith(".tar.gz"):
            name, version = parse_sdist_filename(path.name)
        else:
            raise ToolingError(f"{path}: not a wheel or sdist; publish only .whl and .tar.gz")
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise ToolingError(f"{path}: {exc}; rebuild it with `nox -s build`") from exc
    return str(name), validate_version(str(version), where=f"{path.name} version")


def release_of(paths: Sequence[Path]) -> tuple[str, str]:
    """The normalized project and the version of ``paths``, which must be one release's."""
    if not paths:
        raise ToolingError("no files to publish; build them first with `nox -s build`")
    found = {name_and_version(p) for p in paths}
    if len(found) != 1:
        listed = ", ".join(sorted(f"{n} {v}" for n, v in found))
        raise ToolingError(f"files of several releases given ({listed}); publish one at a time")
    name, version = found.pop()
    return canonicalize_name(name), version


def dist_files(directory: Path, version: str | None = None) -> tuple[Path, ...]:
    """Return the wheels and sdists in ``directory`` (of ``version`` only if given), sorted."""
    files = sorted([*directory.glob("*.whl"), *directory.glob("*.tar.gz")])
    if version is not None:
        files = [f for f in files if name_and_version(f)[1] == version]
    if not files:
        which = f" of version {version}" if version else ""
        raise ToolingError(f"{directory}: no wheel or sdist{which}; run `nox -s build` first")
    return tuple(files)

