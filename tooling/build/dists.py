"""``nox -s build``: stage, build sdist + wheel into ``dist/`` with pypa/build, check both.

Checks, all of which must pass before ``dist/`` is replaced (atomically, like the stage):
``twine check --strict``; ``check-wheel-contents --toplevel PKG``; the wheel holds exactly
the staged package files and the sdist exactly the staged project (no tests, bytecode,
dotfiles or secret-looking files); the wheel built from the sdist is byte-identical to the
direct one; no shipped module imports a workspace name bare.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from build import ProjectBuilder
from pyproject_hooks import quiet_subprocess_runner

from tooling.build.checks import bare_imports, forbidden_entries
from tooling.build.messages import metadata_hint, relocated, strip_ansi
from tooling.build.stage import source_date_epoch, stage
from tooling.cli import guarded, step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import replace_dir
from tooling.proc import Completed, run

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.build.stage import StageResult
    from tooling.config import Config

# Bump when the set or meaning of the external checks changes: old cache entries stop matching.
_CHECKS_FORMAT = 1

__all__ = ["BuildResult", "DistFile", "build_distributions", "build_project", "main"]


@dataclass(frozen=True)
class DistFile:
    """One built distribution file."""

    path: Path
    """Where it is (in ``dist/`` once the build finished)."""
    size: int
    """Its size in bytes."""
    sha256: str
    """The hex sha256 of its bytes."""

    @classmethod
    def of(cls, path: Path) -> DistFile:
        """Measure ``path``."""
        data = path.read_bytes()
        return cls(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class BuildResult:
    """What `build_distributions` produced and proved."""

    stage: StageResult
    """The staged project the distributions were built from."""
    dist_dir: Path
    """The directory holding exactly these distributions."""
    wheel: DistFile
    """The wheel."""
    sdist: DistFile
    """The source distribution (itself a buildable staged project)."""
    source_date_epoch: int
    """The timestamp every archive entry carries (from the last commit)."""
    checks: tuple[str, ...]
    """The checks that passed, in order."""
    seconds: float
    """Wall time of stage + build + checks."""
    checks_cached: bool = False
    """Whether the external checks were skipped: these exact bytes already passed them."""

    @property
    def files(self) -> tuple[DistFile, ...]:
        """Both distributions, wheel first."""
        return (self.wheel, self.sdist)


class _Runner(Protocol):
    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None: ...


def _runner(epoch: int) -> _Runner:
    def runner(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = {**(extra_environ or {}), "SOURCE_DATE_EPOCH": str(epoch)}
        quiet_subprocess_runner(cmd, cwd=cwd, extra_environ=env)

    return runner


def _require_backend() -> None:
    # No isolation: the staged project's backend must be importable right here.
    if importlib.util.find_spec("flit_core") is None:
        raise ToolingError(
            "flit_core is not installed in this environment; run `nox -s build` "
            "(it installs the build group) or `pip install --group build`"
        )


def build_project(
    project: Path, outdir: Path, distribution: Literal["sdist", "wheel"], *, epoch: int
) -> Path:
    """Build one distribution (``"wheel"`` or ``"sdist"``) of ``project`` without isolation."""
    builder = ProjectBuilder(project, python_executable=sys.executable, runner=_runner(epoch))
    try:
        return Path(builder.build(distribution, outdir))
    except Exception as exc:  # build wraps backend failures in several exception types
        cause = str(exc).strip().splitlines()
        raise ToolingError(
            f"{project}: building the {distribution} failed: {cause[-1] if cause else exc!r}"
        ) from exc


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return [i.filename for i in archive.infolist() if not i.is_dir()]


def _sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    return [n.split("/", 1)[1] if "/" in n else n for n in names]


def _check_file_sets(result: StageResult, wheel: Path, sdist: Path) -> None:
    wheel_names = _wheel_names(wheel)
    sdist_names = _sdist_names(sdist)
    for archive, names in ((wheel, wheel_names), (sdist, sdist_names)):
        bad = forbidden_entries(names)
        if bad:
            raise ToolingError(
                f"{archive.name}: ships {', '.join(bad[:5])}; exclude it in "
                "[tool.runtime-build] exclude (tests, bytecode, dotfiles, keys never ship)"
            )
    shipped = {n for n in wheel_names if ".dist-info/" not in n}
    expected = set(result.modules)
    if shipped != expected:
        extra, missing = sorted(shipped - expected), sorted(expected - shipped)
        raise ToolingError(
            f"{wheel.name}: file set differs from the staged package "
            f"(extra: {', '.join(extra[:5]) or 'none'}; "
            f"missing: {', '.join(missing[:5]) or 'none'})"
        )
    expected_sdist = {*result.files, "PKG-INFO"}
    if set(sdist_names) != expected_sdist:
        extra = sorted(set(sdist_names) - expected_sdist)
        missing = sorted(expected_sdist - set(sdist_names))
        raise ToolingError(
            f"{sdist.name}: file set differs from the staged project "
            f"(extra: {', '.join(extra[:5]) or 'none'}; "
            f"missing: {', '.join(missing[:5]) or 'none'})"
        )


def _check_no_bare_imports(wheel: Path, names: frozenset[str]) -> None:
    found = bare_imports(wheel, names)
    if found:
        first = found[0]
        raise ToolingError(
            f"{wheel.name}: {len(found)} bare workspace import(s) shipped, first "
            f"{first.path}:{first.line}:{first.col} imports {first.name!r}; "
            "the rewriter must prefix it (report this as a rewriter bug)",
            path=first.path,
            line=first.line,
            col=first.col,
        )


def _check_sdist_rebuild(sdist: Path, wheel: Path, *, epoch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sdist-rebuild-") as scratch:
        root = Path(scratch)
        with tarfile.open(sdist) as archive:
            archive.extractall(root / "src", filter="data")
        (project,) = (root / "src").iterdir()
        try:
            rebuilt = build_project(project, root / "out", "wheel", epoch=epoch)
        except ToolingError as exc:  # the extracted copy is gone once this returns
            raise relocated(exc, {project: f"{sdist.name} (extracted)"}) from exc
        if rebuilt.read_bytes() != wheel.read_bytes():
            raise ToolingError(
                f"{sdist.name}: the wheel built from it differs from {wheel.name}; "
                "the build is not reproducible from the sdist"
            )


def _tool(argv: list[str], what: str, cwd: Path, *, pyproject: Path | None = None) -> Completed:
    done = run(argv, cwd=cwd, check=False, what=what)
    if done.returncode != 0:
        lines = [
            line.strip()
            for line in strip_ansi(done.stdout + "\n" + done.stderr).splitlines()
            if line.strip() and not line.strip().startswith(("Checking ", "OK"))
        ]
        detail = "; ".join(lines[-3:]) or f"exit {done.returncode}"
        hint = metadata_hint("\n".join(lines)) if pyproject is not None else ""
        if hint:
            raise ToolingError(f"{pyproject}: {what}: {detail}; {hint}", path=pyproject)
        raise ToolingError(f"{what}: {detail}")
    return done


def _checks_key(package: str, sdist: Path, wheel: Path) -> str:
    tools = {
        name: importlib.metadata.version(name)
        for name in ("twine", "check-wheel-contents", "flit_core", "build")
    }
    digests = [DistFile.of(sdist).sha256, DistFile.of(wheel).sha256]
    material = [package, _CHECKS_FORMAT, tools, *digests]
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _external_checks(
    config: Config, sdist: Path, wheel: Path, *, epoch: int, use_cache: bool
) -> bool:
    """Twine, check-wheel-contents and the sdist rebuild, in parallel; True if served cached."""
    marker = config.root / "build" / ".cache" / "checks" / _checks_key(config.package, sdist, wheel)
    if use_cache and marker.is_file():
        return True
    with ThreadPoolExecutor(max_workers=3) as pool:
        # The external checkers run while this process rebuilds from the sdist.
        futures: list[Future[object]] = [
            pool.submit(
                _tool,
                [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
                "twine check --strict",
                config.root,
                pyproject=config.pyproject,
            ),
            pool.submit(
                _tool,
                [
                    sys.executable, "-m", "check_wheel_contents",
                    "--toplevel", config.package, str(wheel),
                ],
                "check-wheel-contents",
                config.root,
            ),
            pool.submit(_check_sdist_rebuild, sdist, wheel, epoch=epoch),
        ]
        for future in futures:
            try:
                future.result()
            except ToolingError as exc:
                # The archives live in a temp folder deleted on the way out: name dist/.
                raise relocated(exc, {sdist.parent: config.root / "dist"}) from exc
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{sdist.name}\n{wheel.name}\n", encoding="utf-8")
    return False


def build_distributions(
    config: Config,
    *,
    dist: Path | None = None,
    stage_out: Path | None = None,
    jobs: int | None = None,
    quiet: bool = False,
    check_cache: bool = True,
) -> BuildResult:
    """Stage, build wheel + sdist into ``dist`` (default ``dist/``), check, replace atomically.

    With ``check_cache``, the external checks (twine, check-wheel-contents, the rebuild from
    the sdist) are skipped for archives byte-identical to ones that already passed them with
    the same tool versions: they are pure functions of those bytes.
    """
    start = time.perf_counter()
    _require_backend()
    dist_dir = (dist or config.root / "dist").resolve()
    with step("stage", quiet=quiet):
        staged = stage(config, stage_out, jobs=jobs)
    epoch = source_date_epoch(config.root)
    dist_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dist_dir.name}-tmp-", dir=dist_dir.parent))
    try:
        # Each hook runs in its own process: build both at once.
        with step("build sdist + wheel", quiet=quiet), ThreadPoolExecutor(max_workers=2) as pool:
            sdist_job = pool.submit(build_project, staged.root, temp, "sdist", epoch=epoch)
            wheel_job = pool.submit(build_project, staged.root, temp, "wheel", epoch=epoch)
            try:
                sdist, wheel = sdist_job.result(), wheel_job.result()
            except ToolingError as exc:
                raise relocated(exc, {temp: dist_dir}) from exc
        with step("check", quiet=quiet):
            _check_file_sets(staged, wheel, sdist)
            _check_no_bare_imports(wheel, staged.names)
            cached = _external_checks(config, sdist, wheel, epoch=epoch, use_cache=check_cache)
        replace_dir(temp, dist_dir)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return BuildResult(
        stage=staged,
        dist_dir=dist_dir,
        wheel=DistFile.of(dist_dir / wheel.name),
        sdist=DistFile.of(dist_dir / sdist.name),
        source_date_epoch=epoch,
        checks=(
            "file sets",
            "no bare imports",
            "twine check --strict",
            f"check-wheel-contents --toplevel {config.package}",
            "sdist wheel == direct wheel",
        ),
        seconds=time.perf_counter() - start,
        checks_cached=cached,
    )


def _as_json(result: BuildResult) -> dict[str, object]:
    return {
        "dist": str(result.dist_dir),
        "stage": str(result.stage.root),
        "files": [
            {"path": str(f.path), "name": f.path.name, "size": f.size, "sha256": f.sha256}
            for f in result.files
        ],
        "wheel": str(result.wheel.path),
        "sdist": str(result.sdist.path),
        "modules": list(result.stage.modules),
        "source_date_epoch": result.source_date_epoch,
        "checks": list(result.checks),
        "checks_cached": result.checks_cached,
        "seconds": round(result.seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.build``: stage, build and check the distributions."""
    parser = argparse.ArgumentParser(prog="nox -s build --", description=__doc__)
    parser.add_argument("--dist", type=Path, help="output directory (default dist/)")
    parser.add_argument("--jobs", type=int, help="rewriter worker processes")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--no-check-cache", "--no-cache", dest="no_check_cache", action="store_true",
        help="rerun twine, check-wheel-contents and the sdist rebuild even for bytes that passed "
        "(--no-cache too, so `nox -s build smoke -- --no-cache` proves everything again)",
    )
    args = parser.parse_args(argv)

    def work() -> int:
        config = load_config()
        result = build_distributions(
            config, dist=args.dist, jobs=args.jobs, quiet=args.json,
            check_cache=not args.no_check_cache,
        )
        if args.json:
            print(json.dumps(_as_json(result), indent=2))
            return 0
        root = config.root
        for f in result.files:
            shown = f.path.relative_to(root) if f.path.is_relative_to(root) else f.path
            print(f"{shown}  {f.size:>9,} bytes  sha256:{f.sha256}")
        cached = " (external checks cached: same bytes passed)" if result.checks_cached else ""
        print(
            f"{len(result.stage.modules)} package files; "
            f"SOURCE_DATE_EPOCH={result.source_date_epoch}; "
            f"checks ok: {', '.join(result.checks)}{cached} ({result.seconds:.2f}s)"
        )
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
