"""Rewrite a whole tree: discover names, walk, cache, parse in parallel, check closure, commit."""

from __future__ import annotations

import fnmatch
import keyword
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.rewrite._aliases import ALIAS_MODULE, alias_hook_source
from tooling.rewrite._cache import Cache
from tooling.rewrite._closure import ModuleIndex, find_violations
from tooling.rewrite._package import package_init
from tooling.rewrite._source import SourceResult, rewrite_source

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["ALWAYS_EXCLUDED", "TreeResult", "discover_names", "rewrite_tree"]

# Bytecode and caches never ship, whatever the caller's excludes say.
ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.pyo")
# Below this many files to parse, a process pool costs more than it saves.
_POOL_THRESHOLD = 8


@dataclass(frozen=True)
class TreeResult:
    """What ``rewrite_tree`` did."""

    names: frozenset[str]
    """The workspace names discovered in the source (excluded ones included)."""
    package_dir: Path
    """``OUT/PKG``, the rewritten package."""
    tests_dir: Path | None
    """``TESTS_OUT``, the rewritten tests, when asked for."""
    files_seen: int
    """Files considered (package and tests)."""
    rewritten: int
    """Python files whose content changed."""
    copied: int
    """Files written unchanged (non-Python files and Python files without a reference)."""
    prefiltered: int
    """Python files the textual pre-filter proved free of names, copied without parsing."""
    cached: int
    """Python files whose result came from the cache instead of a parse."""
    references: Mapping[str, int] = field(default_factory=dict)
    """References rewritten, counted by kind."""
    seconds: float = 0.0
    """Wall time of the whole call."""


@dataclass(frozen=True)
class _File:
    rel: str
    """Path below the tree root, POSIX separators."""
    source: Path
    """Where to read it."""


def _is_name(candidate: str) -> bool:
    return (
        candidate.isidentifier()
        and not keyword.iskeyword(candidate)
        and not (candidate.startswith("__") and candidate.endswith("__"))
    )


def _holds_python(directory: Path) -> bool:
    for _root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        if any(f.endswith(".py") for f in files):
            return True
    return False


def discover_names(source: Path) -> frozenset[str]:
    """Top-level ``*.py`` stems and top-level directories holding ``.py`` files (identifiers)."""
    names: set[str] = set()
    for entry in sorted(source.iterdir()):
        if entry.is_file() and entry.suffix == ".py" and _is_name(entry.stem):
            names.add(entry.stem)
        elif entry.is_dir() and _is_name(entry.name) and _holds_python(entry):
            names.add(entry.name)
    return frozenset(names)


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    """gitignore-like: a pattern with a slash is anchored at the root, else matches a basename."""
    base = rel.rsplit("/", 1)[-1]
    for raw in patterns:
        pattern = raw.strip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(rel, pattern):
                return True
        elif fnmatch.fnmatchcase(base, pattern):
            return True
    return False


def _walk(root: Path, patterns: Sequence[str]) -> tuple[list[_File], list[tuple[str, bool]]]:
    """Shipped files, and excluded entries as (rel, is_dir), without entering excluded dirs."""
    files: list[_File] = []
    excluded: list[tuple[str, bool]] = []
    seen: set[Path] = set()

    def visit(directory: Path, prefix: str) -> None:
        real = directory.resolve()
        if real in seen:  # a symlink loop
            return
        seen.add(real)
        with os.scandir(directory) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            rel = f"{prefix}{entry.name}"
            is_dir = entry.is_dir()
            if _matches(rel, patterns):
                excluded.append((rel, is_dir))
            elif is_dir:
                visit(Path(entry.path), f"{rel}/")
            else:
                files.append(_File(rel, Path(entry.path)))

    visit(root, "")
    return files, excluded


def _read(file: _File, shown: Path) -> bytes:
    try:
        return file.source.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ToolingError(
            f"{shown}: cannot read: {reason}; fix the file or exclude it with --exclude",
            path=shown,
        ) from exc


@dataclass(frozen=True)
class _Job:
    names: frozenset[str]
    package: str
    watch: frozenset[str]


def _run_one(args: tuple[_Job, str, bytes]) -> SourceResult:
    job, shown, code = args
    return rewrite_source(code, job.names, job.package, path=shown, watch=job.watch)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork is fastest, but unsafe once the process has other threads (a server in a test run).
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _rewrite_many(
    job: _Job, todo: list[tuple[str, bytes]], jobs: int
) -> list[SourceResult]:
    """Rewrite files, in a process pool when there are enough of them."""
    if jobs <= 1 or len(todo) < _POOL_THRESHOLD:
        return [_run_one((job, shown, code)) for shown, code in todo]
    workers = min(jobs, len(todo))
    chunk = max(1, len(todo) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        return list(pool.map(_run_one, [(job, s, c) for s, c in todo], chunksize=chunk))


@dataclass
class _Tally:
    seen: int = 0
    rewritten: int = 0
    prefiltered: int = 0
    cached: int = 0
    references: Counter[str] = field(default_factory=Counter)


def _process(
    files: list[_File],
    *,
    root: Path,
    job: _Job,
    cache: Cache | None,
    jobs: int,
    tally: _Tally,
) -> dict[str, SourceResult]:
    """Rewrite every Python file of ``files``; returns results by rel path (others: copy)."""
    results: dict[str, SourceResult] = {}
    todo: list[tuple[str, str, bytes, str]] = []
    for file in files:
        tally.seen += 1
        if not file.rel.endswith(".py"):
            continue
        shown = str(root / file.rel)
        code = _read(file, Path(shown))
        key = cache.key(code, job.names, job.package, job.watch) if cache else ""
        hit = cache.get(key) if cache else None
        if hit is not None:
            tally.cached += 1
            tally.prefiltered += not hit.parsed
            results[file.rel] = hit if hit.changed else SourceResult(
                code, changed=False, imports=hit.imports, parsed=hit.parsed
            )
            continue
        todo.append((file.rel, shown, code, key))
    done = _rewrite_many(job, [(shown, code) for _, shown, code, _ in todo], jobs)
    for (rel, _shown, _code, key), result in zip(todo, done, strict=True):
        results[rel] = result
        tally.prefiltered += not result.parsed
        if cache is not None and not result.problems:
            cache.put(key, result)
    problems = [p for r in results.values() for p in r.problems]
    if problems:
        first = min(problems, key=lambda p: (p.path, p.line, p.col))
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ToolingError(f"{first}{more}", path=first.path, line=first.line, col=first.col)
    for result in results.values():
        tally.references.update(result.references)
        if result.changed:
            tally.rewritten += 1
    return results


def _write(files: Iterable[_File], results: Mapping[str, SourceResult], dest: Path) -> None:
    made: set[Path] = set()
    for file in files:
        target = dest / file.rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        result = results.get(file.rel)
        if result is None:
            shutil.copyfile(file.source, target)
        else:
            target.write_bytes(result.code)
        mode = file.source.stat().st_mode & 0o777
        if mode & 0o111:
            target.chmod(mode)


def _check_paths(  # noqa: C901 - one check per documented error
    source: Path, package: str, out: Path, tests: Path | None, tests_out: Path | None
) -> None:
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ToolingError(f"--package {package!r} is not a Python identifier; pick one like "
                           "molecule_runtime")
    if not source.is_dir():
        raise ToolingError(f"--source {source}: not a directory", path=source)
    if out.is_relative_to(source):
        raise ToolingError(f"--out {out} is inside --source {source}; choose an OUT outside it")
    package_dir = out / package
    if source.is_relative_to(package_dir):
        raise ToolingError(f"--source {source} is inside {package_dir}, which would be replaced; "
                           "choose another OUT")
    if (tests is None) != (tests_out is None):
        raise ToolingError("--tests and --tests-out go together; give both or neither")
    if tests is not None and tests_out is not None:
        if not tests.is_dir():
            raise ToolingError(f"--tests {tests}: not a directory", path=tests)
        for inside in (source, tests):
            if tests_out.is_relative_to(inside) or inside.is_relative_to(tests_out):
                raise ToolingError(f"--tests-out {tests_out} overlaps {inside}; choose a "
                                   "directory outside both trees")
        if tests_out.is_relative_to(package_dir) or package_dir.is_relative_to(tests_out):
            raise ToolingError(f"--tests-out {tests_out} overlaps {package_dir}")


def _staging(final: Path) -> Path:
    """A temp dir on the same filesystem as ``final``, without creating ``final``'s parents."""
    anchor = final.parent
    while not anchor.exists():
        anchor = anchor.parent
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.rewrite-", dir=anchor))


def _replace(built: Path, final: Path) -> None:
    """Move ``built`` to ``final``, replacing it; the old tree is removed only afterwards."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    built.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def rewrite_tree(  # noqa: PLR0915 - one linear recipe: plan, rewrite, check, commit
    source: Path,
    package: str,
    out: Path,
    *,
    tests: Path | None = None,
    tests_out: Path | None = None,
    exclude: Sequence[str] = (),
    jobs: int | None = None,
    cache_dir: Path | None = None,
    aliases: Sequence[str] = (),
) -> TreeResult:
    """Write ``OUT/PKG`` (and ``TESTS_OUT``) rewritten, all or nothing; see docs/rewrite.md."""
    started = time.perf_counter()
    source, out = Path(source).absolute(), Path(out).absolute()
    tests = Path(tests).absolute() if tests is not None else None
    tests_out = Path(tests_out).absolute() if tests_out is not None else None
    _check_paths(source, package, out, tests, tests_out)
    jobs = jobs or os.cpu_count() or 1
    patterns = (*ALWAYS_EXCLUDED, *exclude)
    names = discover_names(source)
    unknown = sorted(set(aliases) - names)
    if unknown:
        raise ToolingError(f"compat alias {unknown[0]!r} is not a top-level module or package of "
                           f"{source}; remove it from compat-aliases")
    files, excluded = _walk(source, patterns)
    index = ModuleIndex.build(package, [f.rel for f in files], excluded)
    dropped = sorted(set(aliases) & index.excluded_top)
    if dropped:
        raise ToolingError(f"compat alias {dropped[0]!r} is excluded from the package; "
                           "remove it from compat-aliases or stop excluding it")
    cache = Cache(cache_dir) if cache_dir is not None else None
    tally = _Tally()
    job = _Job(names, package, index.watch_terms(names))
    results = _process(files, root=source, job=job, cache=cache, jobs=jobs, tally=tally)
    violations = find_violations(index, names, results, source)
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more: " + "; ".join(
            str(v) for v in violations[1:]) + ")" if len(violations) > 1 else ""
        raise ToolingError(f"closure check: {first}{more}", path=first.path, line=first.line)

    tests_files: list[_File] = []
    tests_results: dict[str, SourceResult] = {}
    if tests is not None:
        tests_names = frozenset(names - index.excluded_top - discover_names(tests))
        tests_files, _ = _walk(tests, ALWAYS_EXCLUDED)
        tests_job = _Job(tests_names, package, frozenset())
        tests_results = _process(
            tests_files, root=tests, job=tests_job, cache=cache, jobs=jobs, tally=tally
        )

    staging = _staging(out)
    tests_staging = _staging(tests_out) if tests_out is not None else None
    try:
        package_dir = staging / package
        package_dir.mkdir()
        _write(files, results, package_dir)
        _add_package_files(
            package_dir, package, source, names - index.excluded_top, aliases
        )
        if tests_staging is not None:
            _write(tests_files, tests_results, tests_staging / "tree")
            (tests_staging / "tree").mkdir(exist_ok=True)
        if out.exists():
            _replace(package_dir, out / package)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(out)
        if tests_staging is not None and tests_out is not None:
            _replace(tests_staging / "tree", tests_out)
    finally:
        for temp in (staging, tests_staging):
            if temp is not None and temp.exists():
                shutil.rmtree(temp, ignore_errors=True)
    return TreeResult(
        names=names,
        package_dir=out / package,
        tests_dir=tests_out,
        files_seen=tally.seen,
        rewritten=tally.rewritten,
        copied=tally.seen - tally.rewritten,
        prefiltered=tally.prefiltered,
        cached=tally.cached,
        references=dict(sorted(tally.references.items())),
        seconds=time.perf_counter() - started,
    )


def _add_package_files(
    package_dir: Path, package: str, source: Path, names: Iterable[str], aliases: Sequence[str]
) -> None:
    if aliases:
        (package_dir / f"{ALIAS_MODULE}.py").write_bytes(
            alias_hook_source(package, tuple(aliases))
        )
    init = package_dir / "__init__.py"
    existing = init.read_bytes() if init.exists() else None
    init.write_bytes(package_init(
        existing, package=package, source_name=source.name, names=names, aliases=aliases
    ))
