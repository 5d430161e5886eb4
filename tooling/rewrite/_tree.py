"""Rewrite a whole tree: discover names, walk, cache, parse in parallel, check closure, commit."""

from __future__ import annotations

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.files import replace_dir
from tooling.rewrite._aliases import ALIAS_MODULE, alias_hook_source
from tooling.rewrite._cache import Cache, tool_fingerprint
from tooling.rewrite._closure import ModuleIndex, find_violations
from tooling.rewrite._manifest import Inputs, Manifest, manifest_path, scan_outputs
from tooling.rewrite._package import package_init
from tooling.rewrite._pytest_config import shadowing_names
from tooling.rewrite._quoted import rewrite_quoted_imports
from tooling.rewrite._source import SourceResult, rewrite_source
from tooling.rewrite._walk import ALWAYS_EXCLUDED, SourceFile, discover_names, read_tree

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["ALWAYS_EXCLUDED", "TreeResult", "discover_names", "rewrite_tree"]

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
    files: list[SourceFile],
    *,
    job: _Job,
    cache: Cache | None,
    jobs: int,
    tally: _Tally,
) -> dict[str, SourceResult]:
    """Rewrite every Python file of ``files``; returns results by rel path (others: copy)."""
    results: dict[str, SourceResult] = {}
    todo: list[tuple[SourceFile, bytes]] = []
    for file in files:
        tally.seen += 1
        if not file.rel.endswith(".py"):
            continue
        key = cache.key(file.digest, job.names, job.package, job.watch) if cache else b""
        hit = cache.get(key, file.code) if cache else None
        if hit is not None:
            tally.cached += 1
            tally.prefiltered += not hit.parsed
            results[file.rel] = hit
            continue
        todo.append((file, key))
    done = _rewrite_many(job, [(file.path, file.code) for file, _ in todo], jobs)
    for (file, key), result in zip(todo, done, strict=True):
        results[file.rel] = result
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


def _write(files: Iterable[SourceFile], results: Mapping[str, SourceResult], dest: Path) -> None:
    made: set[str] = set()
    root = str(dest)
    for file in files:
        target = os.path.join(root, file.rel)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        result = results.get(file.rel)
        with open(target, "wb") as fh:
            fh.write(file.code if result is None else result.code)
        if file.mode & 0o111:
            os.chmod(target, file.mode)


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


@dataclass(frozen=True)
class _Plan:
    """What to read and write, decided before any rewriting."""

    source: Path
    package: str
    package_dir: Path
    tests_out: Path | None
    names: frozenset[str]
    """Discovered names (excluded ones included)."""
    tests_names: frozenset[str]
    """Names the test tree sees as workspace names."""
    index: ModuleIndex
    files: list[SourceFile]
    tests_files: list[SourceFile]
    aliases: tuple[str, ...]
    settings: tuple[str, ...]
    """Everything besides file contents that shapes the output (for the no-op check)."""

    @property
    def outputs(self) -> list[Path]:
        """The directories this rewrite replaces."""
        return [self.package_dir] if self.tests_out is None else [self.package_dir,
                                                                  self.tests_out]

    @property
    def inputs(self) -> Inputs:
        """(rel, mode, digest) of every input file, package tree then test tree."""
        marker = ("\0tests", 0, b"")
        return (*((f.rel, f.mode, f.digest) for f in self.files), marker,
                *((f.rel, f.mode, f.digest) for f in self.tests_files))


def _plan(
    source: Path, package: str, out: Path, *, tests: Path | None, tests_out: Path | None,
    exclude: Sequence[str], aliases: Sequence[str],
) -> _Plan:
    _check_paths(source, package, out, tests, tests_out)
    patterns = (*ALWAYS_EXCLUDED, *exclude)
    names = discover_names(source)
    unknown = sorted(set(aliases) - names)
    if unknown:
        raise ToolingError(f"compat alias {unknown[0]!r} is not a top-level module or package of "
                           f"{source}; remove it from compat-aliases")
    files, excluded = read_tree(source, patterns)
    index = ModuleIndex.build(package, [f.rel for f in files], excluded)
    dropped = sorted(set(aliases) & index.excluded_top)
    if dropped:
        raise ToolingError(f"compat alias {dropped[0]!r} is excluded from the package; "
                           "remove it from compat-aliases or stop excluding it")
    tests_files: list[SourceFile] = []
    tests_names: frozenset[str] = frozenset()
    if tests is not None:
        tests_files = read_tree(tests, ALWAYS_EXCLUDED)[0]
        # pytest's import rules decide which of the test tree's own names win (docs/rewrite.md).
        tests_names = frozenset(names - index.excluded_top - shadowing_names(tests, source))
    settings = (tool_fingerprint(), package, str(source), str(tests), "\0".join(patterns),
                "\0".join(sorted(aliases)), "\0".join(sorted(names)), "\0".join(tests_names))
    return _Plan(source, package, out / package, tests_out, names, tests_names, index, files,
                 tests_files, tuple(aliases), settings)


def _unchanged(plan: _Plan, manifest_file: Path) -> Manifest | None:
    """The previous run's manifest if inputs, settings and outputs are exactly as it left them."""
    previous = Manifest.load(manifest_file)
    if (previous is not None and previous.settings == plan.settings
            and previous.inputs == plan.inputs and previous.outputs == scan_outputs(plan.outputs)):
        return previous
    return None


def _commit(
    plan: _Plan, results: Mapping[str, SourceResult], tests_results: Mapping[str, SourceResult]
) -> None:
    """Write everything into temp dirs beside the outputs, then move them into place."""
    out = plan.package_dir.parent
    staging = _staging(out)
    tests_staging = _staging(plan.tests_out) if plan.tests_out is not None else None
    try:
        built = staging / plan.package
        built.mkdir()
        _write(plan.files, results, built)
        _add_package_files(built, plan.package, plan.source,
                           plan.names - plan.index.excluded_top, plan.aliases)
        if tests_staging is not None:
            _write(plan.tests_files, tests_results, tests_staging / "tree")
            (tests_staging / "tree").mkdir(exist_ok=True)
        if out.exists():
            replace_dir(built, plan.package_dir)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(out)
        if tests_staging is not None and plan.tests_out is not None:
            replace_dir(tests_staging / "tree", plan.tests_out)
    finally:
        for temp in (staging, tests_staging):
            if temp is not None and temp.exists():
                shutil.rmtree(temp, ignore_errors=True)


def _rewrite_quoted(results: dict[str, SourceResult], plan: _Plan, tally: _Tally) -> None:
    """Rewrite test literals that quote import statements (source-text assertions)."""
    names = plan.tests_names

    def rewrite(snippet: bytes) -> bytes:
        return rewrite_source(snippet, names, plan.package).code

    for rel, result in results.items():
        code, count = rewrite_quoted_imports(result.code, names, rewrite)
        if count:
            tally.rewritten += not result.changed
            references = {**result.references}
            references["quoted_import"] = references.get("quoted_import", 0) + count
            tally.references["quoted_import"] += count
            results[rel] = replace(result, code=code, changed=True, references=references)


def _check_closure(plan: _Plan, results: Mapping[str, SourceResult]) -> None:
    violations = find_violations(plan.index, plan.names, results, plan.source)
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more: " + "; ".join(
            str(v) for v in violations[1:]) + ")" if len(violations) > 1 else ""
        raise ToolingError(f"closure check: {first}{more}", path=first.path, line=first.line)


def _result(plan: _Plan, tally: _Tally, started: float) -> TreeResult:
    return TreeResult(
        names=plan.names,
        package_dir=plan.package_dir,
        tests_dir=plan.tests_out,
        files_seen=tally.seen,
        rewritten=tally.rewritten,
        copied=tally.seen - tally.rewritten,
        prefiltered=tally.prefiltered,
        cached=tally.cached,
        references=dict(sorted(tally.references.items())),
        seconds=time.perf_counter() - started,
    )


def rewrite_tree(
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
    plan = _plan(
        Path(source).absolute(), package, Path(out).absolute(),
        tests=Path(tests).absolute() if tests is not None else None,
        tests_out=Path(tests_out).absolute() if tests_out is not None else None,
        exclude=exclude, aliases=aliases,
    )
    manifest_file = manifest_path(cache_dir, plan.outputs) if cache_dir is not None else None
    previous = _unchanged(plan, manifest_file) if manifest_file is not None else None
    if previous is not None:  # a no-op: the outputs already are what this run would write
        seen, rewritten, prefiltered, cached, references = previous.summary
        tally = _Tally(seen, rewritten, prefiltered, cached, Counter(dict(references)))
        return _result(plan, tally, started)

    jobs = jobs or os.cpu_count() or 1
    cache = Cache(cache_dir) if cache_dir is not None else None
    tally = _Tally()
    job = _Job(plan.names, package, plan.index.watch_terms(plan.names))
    results = _process(plan.files, job=job, cache=cache, jobs=jobs, tally=tally)
    _check_closure(plan, results)
    tests_results: dict[str, SourceResult] = {}
    if tests is not None:
        tests_job = _Job(plan.tests_names, package, frozenset())
        tests_results = _process(
            plan.tests_files, job=tests_job, cache=cache, jobs=jobs, tally=tally
        )
        _rewrite_quoted(tests_results, plan, tally)
    if cache is not None:
        cache.save()
    _commit(plan, results, tests_results)
    if manifest_file is not None:
        python_files = sum(f.rel.endswith(".py") for f in (*plan.files, *plan.tests_files))
        summary = (tally.seen, tally.rewritten, tally.prefiltered, python_files,
                   tuple(sorted(tally.references.items())))
        Manifest(plan.settings, plan.inputs, scan_outputs(plan.outputs), summary).save(
            manifest_file
        )
    return _result(plan, tally, started)


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
