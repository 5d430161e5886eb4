"""The smoke result cache: a pass is not proved again for exactly the same inputs.

A warm ``nox -s build smoke`` with nothing changed used to rerun the workspace's own tests on
every Python (9-13 s each).  A Python's checks are a function of what this key covers, so a
pass recorded under the same key stands:

- the wheel's sha256 (a new build of changed code, or a new version, is a new key);
- the interpreter's exact version and real path;
- every distribution installed in the smoke venv with its version, read from the
  ``*.dist-info`` names in its site-packages (no subprocess), plus the ``.pth`` files;
- a content hash of the rewritten workspace test tree (tests, conftest, pytest.ini);
- the smoke settings, the project's name, package, version and dependencies, and the
  environment variables the runtime and pytest read (``MOLECULE_*``, ``A2A_*``,
  ``PYTEST*``, ``PYTHON*``);
- ``tooling.__version__`` and a digest of ``tooling/smoke*.py`` (the checks themselves).

Failures are never stored.  Entries live in ``build/.cache/smoke/`` (the newest 64 kept);
``--no-cache`` ignores them.  The installed-files check (every file of the wheel's RECORD
hashed on disk) runs before any lookup, so a cached pass only ever stands for this wheel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tooling
from tooling.smoke.checks import CheckResult, clean_env

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tooling.config import Config
    from tooling.smoke.pythons import PythonInfo
    from tooling.smoke.settings import SmokeSettings

__all__ = [
    "CACHED_DETAIL",
    "CachedPass",
    "cache_dir",
    "installed_distributions",
    "load_entry",
    "load_pass",
    "python_key",
    "store_entry",
    "store_pass",
    "tool_digest",
    "tree_digest",
]

CACHED_DETAIL = (
    "passed (cached: identical wheel, interpreter, dependencies and tests; --no-cache re-runs)"
)
"""What a check served from the cache reports, in the output and in ``--json``."""
_FORMAT = "smoke-cache-1"
_KEEP = 64
_ENV_PREFIXES = ("MOLECULE_", "A2A_", "PYTEST", "PYTHON")


def cache_dir(config: Config) -> Path:
    """Where smoke results are cached: ``build/.cache/smoke`` of the project."""
    return config.root / "build" / ".cache" / "smoke"


@functools.cache
def tool_digest() -> str:
    """``tooling.__version__`` and a digest of the smoke modules' own source."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{tooling.__version__}+{digest.hexdigest()}"


def installed_distributions(site: Path) -> tuple[str, ...]:
    """``name==version`` of every distribution in ``site`` and ``name.pth:sha256`` per .pth."""
    found: list[str] = []
    try:
        entries = list(os.scandir(site))
    except OSError:
        return ()
    for entry in entries:
        if entry.name.endswith(".dist-info"):
            # Installers name it `{name}-{version}.dist-info`; a version holds no "-".
            name, _, version = entry.name.removesuffix(".dist-info").rpartition("-")
            found.append(f"{name.lower()}=={version}")
        elif entry.name.endswith(".pth"):
            with contextlib.suppress(OSError):
                data = Path(entry.path).read_bytes()
                found.append(f"{entry.name}:{hashlib.sha256(data).hexdigest()}")
    return tuple(sorted(found))


def tree_digest(root: Path | None) -> str:
    """A content hash of every file below ``root`` (paths and bytes); "" for no tree."""
    if root is None:
        return ""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(root).as_posix()
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _digest(material: object) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def python_key(
    *,
    config: Config,
    settings: SmokeSettings,
    python: PythonInfo,
    wheel_sha256: str,
    site: Path,
    tests_digest: str,
) -> str:
    """The cache key of one Python's smoke: every input its checks depend on."""
    env = {k: v for k, v in clean_env().items() if k.startswith(_ENV_PREFIXES)}
    material = {
        "format": _FORMAT,
        "tool": tool_digest(),
        "wheel": wheel_sha256,
        "python": [python.version, os.path.realpath(python.executable)],
        "installed": list(installed_distributions(site)),
        "tests": tests_digest,
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "pythons"},
        "project": [config.name, config.package, config.version, list(config.dependencies),
                    list(config.stable_imports)],
        "env": env,
    }
    return _digest(material)


def load_entry(directory: Path, key: str) -> dict[str, object] | None:
    """The entry stored under ``key``, or None (absent, unreadable, another format)."""
    try:
        data = json.loads((directory / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return None
    return data


def store_entry(directory: Path, key: str, value: Mapping[str, object]) -> None:
    """Store ``value`` under ``key`` atomically (best effort: an unwritable cache costs speed)."""
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({**value, "format": _FORMAT}, fh, sort_keys=True)
            Path(temp).replace(directory / f"{key}.json")
        finally:
            Path(temp).unlink(missing_ok=True)
        _prune(directory)


def _prune(directory: Path) -> None:
    aged = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            with contextlib.suppress(OSError):
                aged.append((entry.stat().st_mtime_ns, entry.path))
    for _, path in sorted(aged)[:-_KEEP]:
        with contextlib.suppress(OSError):
            Path(path).unlink()


@dataclass(frozen=True)
class CachedPass:
    """One Python's earlier pass, as stored."""

    skipped: Mapping[str, str]
    """Checks that were skipped then (switched off by the same settings), with the reason."""
    passed: tuple[str, ...]
    """Checks that passed then."""
    dep_modules: Mapping[str, tuple[str, ...]]
    """The probe's dependency-to-module map, which deptry needs."""

    def results(self, names: Iterable[str]) -> list[CheckResult]:
        """The results to report now for ``names``: cached passes and the same skips."""
        out = []
        for name in names:
            if name in self.skipped:
                out.append(CheckResult(name, ok=True, detail=self.skipped[name], skipped=True))
            else:
                out.append(CheckResult(name, ok=True, detail=CACHED_DETAIL, cached=True))
        return out


def load_pass(directory: Path, key: str, names: Sequence[str]) -> CachedPass | None:
    """The stored pass under ``key`` if it covers exactly the checks ``names``."""
    data = load_entry(directory, key)
    if data is None:
        return None
    skipped, passed, modules = data.get("skipped"), data.get("passed"), data.get("dep_modules")
    if not (isinstance(skipped, dict) and isinstance(passed, list) and isinstance(modules, dict)):
        return None
    if sorted([*skipped, *passed]) != sorted(names):
        return None
    return CachedPass(
        skipped={str(k): str(v) for k, v in skipped.items()},
        passed=tuple(str(p) for p in passed),
        dep_modules={str(k): tuple(v) for k, v in modules.items() if isinstance(v, list)},
    )


def store_pass(
    directory: Path,
    key: str,
    done: Sequence[CheckResult],
    dep_modules: Mapping[str, Sequence[str]],
    *,
    covers: Sequence[str],
) -> None:
    """Record the pass of the checks named ``covers``, only if every check in ``done`` passed.

    Failures are never stored, including one of a check that is not cached itself (the
    installed-files check): all of them run again next time.
    """
    checks = [c for c in done if c.name in covers]
    if not done or not all(c.ok for c in done) or len(checks) != len(covers):
        return
    store_entry(directory, key, {
        "skipped": {c.name: c.detail for c in checks if c.skipped},
        "passed": [c.name for c in checks if not c.skipped],
        "dep_modules": {k: list(v) for k, v in dep_modules.items()},
    })
