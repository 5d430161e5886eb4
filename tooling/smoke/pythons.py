"""Find the CPython interpreters (3.11+) the smoke session runs the wheel on."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["MIN_VERSION", "PYTHONS_ENV", "PythonInfo", "find_pythons", "parse_restriction"]

MIN_VERSION = (3, 11)
"""The oldest Python the runtime supports (`requires-python = ">=3.11"`)."""
PYTHONS_ENV = "RUNTIME_SMOKE_PYTHONS"
"""Comma-separated versions (``3.11,3.12``) or interpreter paths that restrict the smoke run."""

_VERSIONED_NAME = re.compile(r"python3\.(\d+)")
_PROBE = (
    "import sys, platform;"
    "print(platform.python_implementation(), '.'.join(map(str, sys.version_info[:3])),"
    " sys.executable)"
)
_PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class PythonInfo:
    """One working interpreter."""

    version: str
    """Its full version, ``X.Y.Z``."""
    executable: Path
    """The path to run (the real interpreter, not a pyenv shim)."""

    @property
    def minor(self) -> str:
        """``X.Y``: what the smoke session keys its venvs and reports by."""
        return ".".join(self.version.split(".")[:2])


def parse_restriction(values: Iterable[str]) -> tuple[str, ...]:
    """Split ``--python`` values and ``RUNTIME_SMOKE_PYTHONS`` (commas or spaces) into entries."""
    return tuple(part for value in values for part in re.split(r"[,\s]+", value) if part)


def _candidates(env: Mapping[str, str]) -> list[Path]:
    found: list[Path] = []
    for entry in env.get("PATH", "").split(os.pathsep):
        directory = Path(entry or ".")
        if not directory.is_dir():
            continue
        try:
            names = sorted(p.name for p in directory.iterdir())
        except OSError:
            continue
        found.extend(directory / n for n in names if _VERSIONED_NAME.fullmatch(n))
    roots = [Path(env["PYENV_ROOT"])] if env.get("PYENV_ROOT") else []
    if env.get("HOME"):
        roots.append(Path(env["HOME"]) / ".pyenv")
    roots.append(Path.home() / ".pyenv")
    for root in roots:
        versions = root / "versions"
        if versions.is_dir():
            found.extend(sorted(versions.glob("3.*/bin/python3.*")))
    return found


def _probe(executable: Path) -> PythonInfo | None:
    # Run it: a pyenv shim for an inactive version exists on PATH but only prints an error.
    try:
        proc = subprocess.run(
            [os.fspath(executable), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = proc.stdout.split(maxsplit=2)
    if proc.returncode != 0 or len(parts) != 3 or parts[0] != "CPython":
        return None
    version = parts[1]
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_VERSION:
        return None
    return PythonInfo(version=version, executable=Path(parts[2].strip()))


def _matches(info: PythonInfo, wanted: str) -> bool:
    return wanted in {info.version, info.minor}


def _name_minor(path: Path) -> int:
    match = _VERSIONED_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else -1


def _first_working(candidates: Sequence[Path]) -> PythonInfo | None:
    for candidate in candidates:
        info = _probe(candidate)
        if info is not None:
            return info
    return None


def _discover(env: Mapping[str, str], minors: Iterable[str] = ()) -> tuple[PythonInfo, ...]:
    # The file name says the minor version, so only 3.11+ names are run, and per minor the
    # real binaries go before pyenv shims (each shim call costs a bash start-up).
    wanted = {int(m.split(".")[1]) for m in minors if m.count(".") >= 1}
    groups: dict[int, list[Path]] = {}
    seen: set[str] = set()
    for candidate in _candidates(env):
        minor = _name_minor(candidate)
        real = os.path.realpath(candidate)
        if minor < MIN_VERSION[1] or (wanted and minor not in wanted) or real in seen:
            continue
        seen.add(real)
        groups.setdefault(minor, []).append(candidate)
    ordered = [sorted(g, key=lambda p: "shims" in p.parts) for g in groups.values()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return tuple(p for p in pool.map(_first_working, ordered) if p is not None)


def find_pythons(
    restrict: Sequence[str] = (), *, env: Mapping[str, str] | None = None
) -> tuple[PythonInfo, ...]:
    """Every working CPython 3.11+ on PATH and under pyenv, one per ``X.Y``, oldest first.

    ``restrict`` entries are versions (``3.12``, ``3.12.1``) or interpreter paths; each must
    match a working interpreter or this raises naming it.
    """
    environ = os.environ if env is None else env
    wanted_versions = [r for r in restrict if os.sep not in r]
    probed = _discover(environ, wanted_versions) if wanted_versions or not restrict else ()
    chosen: dict[str, PythonInfo] = {}
    if not restrict:
        for info in probed:
            chosen.setdefault(info.minor, info)
    for wanted in restrict:
        if os.sep in wanted:
            match = _probe(Path(wanted))
        else:
            match = next((p for p in probed if _matches(p, wanted)), None)
        if match is None:
            found = sorted({p.minor for p in probed})
            raise ToolingError(
                f"python {wanted!r} (from --python or ${PYTHONS_ENV}): no working CPython "
                f"{'.'.join(map(str, MIN_VERSION))}+ matches; found {', '.join(found) or 'none'}"
            )
        chosen.setdefault(match.minor, match)
    return tuple(sorted(chosen.values(), key=lambda p: tuple(map(int, p.version.split(".")))))
