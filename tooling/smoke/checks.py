"""The smoke session's checks, one function per check, each returning a `CheckResult`.

The serve check lives in ``tooling/smoke/serve.py``, the dependency check (deptry) in
``tooling/smoke/deps.py``.

Every check that runs code from the wheel runs it in the smoke venv's interpreter with
``-I`` (no user site, no PYTHON* variables, no script or working directory on sys.path)
from a temp directory outside the repository, so only the installed wheel can answer.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.proc import run
from tooling.secrets import redact
from tooling.smoke.probe import MARKER

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.smoke.pythons import PythonInfo
    from tooling.smoke.testrun import TestVerdict

__all__ = [
    "PROBE_SCRIPT",
    "CheckResult",
    "CheckState",
    "Probe",
    "check_installed",
    "check_record",
    "check_version",
    "clean_env",
    "elapsed",
    "ensure_venv",
    "failed_check",
    "file_tail",
    "find_uv",
    "install_wheel",
    "output_tail",
    "probe_installed",
    "site_packages",
    "venv_python",
    "wheel_record",
]

# Variables that would point the runtime or Python somewhere other than the smoke setup.
_DROPPED_ENV = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV",
    "WORKSPACE_ID", "PLATFORM_URL", "MOLECULE_CONFIG", "MOLECULE_SNAPSHOT_DIR",
    "PYTEST_ADDOPTS", "PYTEST_PLUGINS",
)
_TAIL_LINES = 3

PROBE_SCRIPT = Path(__file__).with_name("probe.py")
"""The probe program, run by path inside each smoke venv (it needs only the standard library)."""


class CheckState(Enum):
    """What became of one check: the one place the state names live."""

    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"
    CACHED = "cached"


@dataclass(frozen=True)
class CheckResult:
    """One check on one Python (or on the staged package, for the dependency check)."""

    name: str
    """Short name: install, wheel, imports, entry-points, version, serve, tests, deps."""
    ok: bool
    """Whether it passed (a skipped check counts as passed)."""
    detail: str
    """One line: what was proved, or the first cause of failure."""
    failures: tuple[str, ...] = ()
    """Every failure, one line each (all import failures, not just the first)."""
    seconds: float = 0.0
    """How long it took."""
    skipped: bool = False
    """True when the check did not apply (switched off, or an earlier step failed)."""
    cached: bool = False
    """True when the result is an earlier run's pass for identical inputs (``--no-cache``)."""
    tests: TestVerdict | None = None
    """For the tests check: both layouts' runs and the per-test differences."""

    @property
    def state(self) -> CheckState:
        """The check's state, for tables and JSON."""
        if self.cached:
            return CheckState.CACHED
        if self.skipped:
            return CheckState.SKIP
        return CheckState.OK if self.ok else CheckState.FAIL


@dataclass(frozen=True)
class Probe:
    """What the in-venv probe saw of the installed distribution."""

    package_file: str
    """Where the package's ``__init__`` was imported from."""
    site_packages: str
    """The venv's purelib directory."""
    modules: tuple[str, ...]
    """Every module of the package found by walking the installed tree."""
    import_failures: tuple[str, ...]
    """``module: ExcType: message`` per module that failed to import."""
    entry_points: tuple[str, ...]
    """``group name = value`` per entry point resolved."""
    entry_point_failures: tuple[str, ...]
    """``name = value: ExcType: message`` per entry point that failed to load."""
    record: Mapping[str, str] = field(default_factory=dict)
    """Installed files (as listed by the dist-info RECORD) to ``sha256=...``."""
    dep_modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Declared dependency name to the top-level modules it installs."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for anything run in a smoke venv: ours minus what would redirect it."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(extra or {})
    return env


def venv_python(venv: Path) -> Path:
    """The interpreter of a POSIX venv."""
    return venv / "bin" / "python"


def _venv_version(venv: Path) -> str | None:
    cfg = venv / "pyvenv.cfg"
    if not cfg.is_file() or not venv_python(venv).exists():
        return None
    for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in {"version_info", "version"}:
            return value.strip()
    return None


@functools.cache
def find_uv() -> str | None:
    """The uv executable (from the uv package, else PATH), or None to fall back to venv."""
    # Cached and first called before the per-Python threads start (see run_smoke):
    # find_uv_bin reads sysconfig, whose lazy initialisation is not thread-safe on 3.11.
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    try:
        return os.fspath(find_uv_bin())
    except FileNotFoundError:
        return shutil.which("uv")


def ensure_venv(python: PythonInfo, venv: Path) -> CheckResult:
    """Reuse ``venv`` if it was made from this exact Python; otherwise create it anew."""
    start = time.perf_counter()
    if _venv_version(venv) == python.version:
        return CheckResult("venv", ok=True, detail=f"reused {venv}", seconds=elapsed(start))
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    if uv:
        argv = [uv, "venv", "--quiet", "--python", os.fspath(python.executable), os.fspath(venv)]
        how = "uv venv"
    else:
        argv = [os.fspath(python.executable), "-m", "venv", os.fspath(venv)]
        how = "python -m venv"
    done = run(argv, check=False, env=clean_env(), timeout=300, what=how)
    if done.returncode != 0:
        why = output_tail(done.stderr or done.stdout)
        return failed_check("venv", f"{how} failed: {why}", start)
    return CheckResult("venv", ok=True, detail=f"created {venv} ({how})", seconds=elapsed(start))


def install_wheel(
    venv: Path, wheel: Path, dist_name: str, extra: Sequence[str], *, index_url: str | None
) -> CheckResult:
    """Install ``wheel`` (always this file, even at an unchanged version) plus its dependencies."""
    start = time.perf_counter()
    python = venv_python(venv)
    uv = find_uv()
    if uv and not (venv / "bin" / "pip").exists():
        # --reinstall-package/--refresh-package: uv would otherwise keep an installed copy of
        # the same version (or its cached build of a same-named file): the rebuilt wheel wins.
        argv = [
            uv, "pip", "install", "--quiet", "--python", os.fspath(python),
            "--reinstall-package", dist_name, "--refresh-package", dist_name,
            *(["--index-url", index_url] if index_url else []),
            os.fspath(wheel), *extra,
        ]
        done = run(argv, check=False, env=clean_env(), timeout=900, what="uv pip install")
    else:
        pip = [os.fspath(python), "-m", "pip", "--disable-pip-version-check", "--quiet"]
        run([*pip, "uninstall", "--yes", dist_name], check=False, env=clean_env(), timeout=300)
        argv = [*pip, "install", *(["--index-url", index_url] if index_url else []),
                os.fspath(wheel), *extra]
        done = run(argv, check=False, env=clean_env(), timeout=900, what="pip install")
    if done.returncode != 0:
        why = output_tail(done.stderr)
        return failed_check("install", f"installing {wheel.name} failed: {why}", start)
    return CheckResult(
        "install", ok=True, detail=f"{wheel.name} + declared dependencies", seconds=elapsed(start)
    )


def wheel_record(wheel: Path) -> dict[str, str]:
    """The wheel's own RECORD: file path to ``sha256=...`` (entries with a hash)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            (n for n in archive.namelist() if n.endswith(".dist-info/RECORD")), None
        )
        if name is None:
            raise ToolingError(f"{wheel}: has no .dist-info/RECORD; rebuild it with `nox -s build`")
        text = archive.read(name).decode("utf-8")
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) >= 2 and row[1]}


def probe_installed(
    venv: Path,
    package: str,
    dist_name: str,
    deps: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[Probe | None, str]:
    """Run the in-venv probe (``tooling/smoke/probe.py``); return it, or None and why not."""
    argv = [
        os.fspath(venv_python(venv)), "-I", "-B", os.fspath(PROBE_SCRIPT), package, dist_name,
        json.dumps(list(deps)),
    ]
    done = run(argv, cwd=cwd, check=False, env=clean_env(env), timeout=300, what="import probe")
    marker = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)), None)
    if marker is None:
        why = output_tail(done.stderr or done.stdout)
        return None, f"probe failed (exit {done.returncode}): {why}"
    data = json.loads(marker.removeprefix(MARKER))
    return Probe(
        package_file=data["package_file"],
        site_packages=data["site_packages"],
        modules=tuple(data["modules"]),
        import_failures=tuple(data["import_failures"]),
        entry_points=tuple(data["entry_points"]),
        entry_point_failures=tuple(data["entry_point_failures"]),
        record=dict(data["record"]),
        dep_modules={k: tuple(v) for k, v in data["dep_modules"].items()},
    ), ""


def check_record(probe: Probe, wheel: Path, expected: Mapping[str, str]) -> CheckResult:
    """The installed files are exactly the ones in ``wheel`` (sha256 per file), from the venv."""
    wheel_sha = sha256_of(wheel)[:16]
    mismatched = sorted(
        path for path, digest in expected.items() if probe.record.get(path) != digest
    )
    if not probe.package_file.startswith(probe.site_packages):
        return CheckResult(
            "wheel", ok=False,
            detail=f"package imported from {probe.package_file}, not from the venv's site-packages",
        )
    if mismatched:
        return CheckResult(
            "wheel", ok=False,
            detail=f"installed files differ from {wheel.name}: {', '.join(mismatched[:3])}",
            failures=tuple(mismatched),
        )
    return CheckResult(
        "wheel", ok=True,
        detail=f"installed files == {wheel.name} (sha256 {wheel_sha}..., {len(expected)} files)",
    )


def site_packages(venv: Path, minor: str) -> Path:
    """The purelib directory of a POSIX venv made by Python ``minor`` (``X.Y``)."""
    return venv / "lib" / f"python{minor}" / "site-packages"


def _file_digest(path: Path) -> str:
    # RECORD's form (PEP 376/427): sha256=<urlsafe base64 without padding>.
    raw = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def check_installed(site: Path, wheel: Path, expected: Mapping[str, str]) -> CheckResult:
    """Prove in this process that ``site`` holds exactly the files of ``wheel``.

    Every file of the wheel's RECORD is hashed on disk and must match, and the installed
    RECORD must list the same digests; no subprocess, so it is cheap.  Runs on every smoke,
    cache or not: a cached pass is served only for exactly this wheel.
    """
    start = time.perf_counter()
    # RECORD lists itself without a hash, so find its directory through another entry.
    record_name = next(
        (p.rsplit("/", 1)[0] + "/RECORD" for p in expected if ".dist-info/" in p), "RECORD"
    )
    try:
        text = (site / record_name).read_text(encoding="utf-8")
    except OSError:
        return failed_check("wheel", f"{wheel.name} is not installed in {site}", start)
    installed = {
        row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) >= 2
    }
    mismatched = []
    for path, digest in sorted(expected.items()):
        try:
            on_disk = _file_digest(site / path)
        except OSError:
            on_disk = "missing"
        if installed.get(path) != digest or on_disk != digest:
            mismatched.append(path)
    if mismatched:
        return CheckResult(
            "wheel", ok=False,
            detail=f"installed files differ from {wheel.name}: {', '.join(mismatched[:3])}",
            failures=tuple(mismatched), seconds=elapsed(start),
        )
    wheel_sha = sha256_of(wheel)[:16]
    return CheckResult(
        "wheel", ok=True,
        detail=f"installed files == {wheel.name} (sha256 {wheel_sha}..., {len(expected)} files "
        "hashed on disk)",
        seconds=elapsed(start),
    )


def _script(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def check_version(
    venv: Path, script: str, version: str, cwd: Path, env: Mapping[str, str] | None = None
) -> CheckResult:
    """``<script> --version`` prints the pyproject version."""
    start = time.perf_counter()
    path = _script(venv, script)
    if not path.exists():
        return failed_check("version", f"console script {script} was not installed", start)
    argv = [os.fspath(venv_python(venv)), "-I", "-B", os.fspath(path), "--version"]
    done = run(argv, cwd=cwd, check=False, env=clean_env(env), timeout=120, what=script)
    text = done.stdout.strip() or done.stderr.strip()
    if done.returncode != 0 or version not in text.split():
        return failed_check(
            "version",
            f"`{script} --version` printed {output_tail(text)!r} (exit {done.returncode}); "
            f"expected {version}",
            start,
        )
    return CheckResult("version", ok=True, detail=text.splitlines()[0], seconds=elapsed(start))


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()`` value)."""
    return time.perf_counter() - start


def output_tail(text: str) -> str:
    """The last lines of a tool's output, redacted, on one line."""
    lines = [ln.strip() for ln in redact(text).splitlines() if ln.strip()]
    return " | ".join(lines[-_TAIL_LINES:]) if lines else "no output"


def file_tail(path: Path) -> str:
    """`output_tail` of a log file ("no output" when it cannot be read)."""
    try:
        return output_tail(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return "no output"


def failed_check(name: str, detail: str, start: float) -> CheckResult:
    """A failed ``name`` check with a redacted ``detail``, timed from ``start``."""
    return CheckResult(name, ok=False, detail=redact(detail), seconds=elapsed(start))
