"""``nox -s api-diff``: the staged package's public API at the working tree vs a release.

Both sides are staged by the rewriter into temporary directories: the working tree's source
as it is on disk, and REF's source taken out of git with ``git archive`` (REF is never checked
out over the user's files).  REF's ``[tool.runtime-build]`` is read from REF's own
pyproject.toml, so a source directory that moved since still works.  REF defaults to the
highest ``<tag-prefix>X.Y.Z`` tag reachable from HEAD; with none, the whole API counts as
added.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tarfile
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tooling.api.bump import classify, underbump_message
from tooling.api.changes import ApiDiff, Change, IgnoredChange
from tooling.api.compare import compare_api
from tooling.api.loader import load_api
from tooling.api.model import ApiModel
from tooling.api.report import FORMATS, render
from tooling.cli import annotate, guarded, step
from tooling.config import Config, config_from_data, load_config, parse_pyproject_text
from tooling.errors import ToolingError
from tooling.files import write_atomic
from tooling.git import last_release_tag
from tooling.proc import run
from tooling.summary import append_section
from tooling.version import BUMPS, parse_bump

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = [
    "ApiDiff",
    "Change",
    "IgnoredChange",
    "StagedApi",
    "api_floor",
    "last_release_tag",
    "load_ref_api",
    "load_worktree_api",
    "main",
    "ref_layout",
    "stable_paths",
    "underbump_message",
]


@dataclass(frozen=True)
class StagedApi:
    """One side of the comparison: where it came from and its public API."""

    label: str
    """The git ref, or ``working tree``."""
    source: str
    """The source directory it was staged from, relative to the repository."""
    model: ApiModel
    """Its public API."""
    note: str | None = None
    """Set when REF was staged with today's settings because it has none of its own."""


def _stage(
    source: Path, package: str, out: Path, exclude: tuple[str, ...], cache_dir: Path | None
) -> Path:
    # Imported here: the rewriter pulls in libcst, which `--help` does not need.
    from tooling.rewrite import rewrite_tree

    rewrite_tree(source, package, out, exclude=exclude, cache_dir=cache_dir)
    return out


def _is_shallow(root: Path) -> bool:
    done = run(["git", "rev-parse", "--is-shallow-repository"], cwd=root, check=False)
    return done.stdout.strip() == "true"


@dataclass(frozen=True)
class RefLayout:
    """Where REF's source is and what it becomes: REF's own settings, or today's."""

    source: str
    """The source directory at REF, relative to the repository."""
    package: str
    """The import package it is staged as."""
    exclude: tuple[str, ...]
    """Globs that never ship, the defaults included."""
    note: str | None
    """Set when today's settings stand in for REF's (a bootstrap)."""


def _has_settings(data: Mapping[str, object]) -> bool:
    tool = data.get("tool")
    return isinstance(tool, dict) and "runtime-build" in tool


def ref_layout(root: Path, ref: str, sha: str, today: Config | None) -> RefLayout:
    """Read REF's settings through the one config parser; without any, use ``today``'s."""
    where = f"{ref}:pyproject.toml"
    shown = run(["git", "show", f"{sha}:pyproject.toml"], cwd=root, check=False)
    data = parse_pyproject_text(shown.stdout, where) if shown.returncode == 0 else None
    if (data is None or not _has_settings(data)) and today is not None:
        what = "no pyproject.toml" if data is None else "no [tool.runtime-build]"
        note = (f"bootstrap: {ref} has {what}; staged it with today's settings (source "
                f"{today.source_rel!r}, package {today.package!r})")
        return RefLayout(today.source_rel, today.package, today.exclude, note)
    if data is None:
        raise ToolingError(f"{where}: no pyproject.toml at {ref}; run from the project root "
                           "or pass --against with a ref that has one")
    ref_config = config_from_data(data, root, root / "pyproject.toml", at_ref=ref)
    return RefLayout(ref_config.source_rel, ref_config.package, ref_config.exclude, None)


def load_ref_api(
    root: Path,
    ref: str,
    work: Path,
    *,
    cache_dir: Path | None = None,
    keep: Collection[str] = (),
    today: Config | None = None,
) -> StagedApi:
    """Stage REF's source (read from git, configured by REF's pyproject) and load its API.

    Without settings of its own at REF, ``today``'s stand in (a bootstrap, said in ``note``).
    """
    commit = run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=root, check=False,
    )
    if commit.returncode != 0:
        raise ToolingError(f"--against {ref}: not a commit in {root}; fetch it (git fetch "
                           "--tags) or pass --against with a tag, branch or sha that exists")
    sha = commit.stdout.strip()
    where = f"{ref}:pyproject.toml"
    layout = ref_layout(root, ref, sha, today)
    source, pkg = layout.source, layout.package
    archive = work / "ref.tar"
    work.mkdir(parents=True, exist_ok=True)
    got = run(
        ["git", "archive", "--format=tar", "-o", str(archive), sha, "--", source],
        cwd=root, check=False,
    )
    if got.returncode != 0:
        raise ToolingError(
            f"{where}: source {source!r} does not exist at {ref}; pass --against with a ref "
            "that has it"
        )
    extracted = work / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    staged = _stage(extracted / source, pkg, work / "stage", layout.exclude, cache_dir)
    model = load_api(staged, pkg, source_prefix=source, keep=keep)
    return StagedApi(ref, source, model, layout.note)


def load_worktree_api(
    config: Config, work: Path, *, cache_dir: Path | None = None, keep: Collection[str] = ()
) -> StagedApi:
    """Stage the working tree's source as it is on disk and load its API.

    ``keep`` lists paths that count as public whatever the rules say (the stable imports).
    """
    staged = _stage(config.source, config.package, work / "stage", config.exclude, cache_dir)
    try:
        prefix = config.source.relative_to(config.root).as_posix()
    except ValueError:
        prefix = config.source.as_posix()
    model = load_api(staged, config.package, source_prefix=prefix, keep=keep)
    return StagedApi("working tree", prefix, model)


def stable_paths(config: Config) -> frozenset[str]:
    """The public paths `stable-imports` promises; an entry outside the package is an error."""
    paths: set[str] = set()
    for entry in config.stable_import_entries():
        if entry.module != config.package and not entry.module.startswith(f"{config.package}."):
            raise ToolingError(
                f"{config.pyproject} [tool.runtime-build] stable-imports: {entry.entry!r} is "
                f"outside the package; write it as {config.package}.MODULE:Name"
            )
        paths.update(entry.paths)
    return frozenset(paths)


def _check_stable(config: Config, stable: frozenset[str], old: ApiModel, new: ApiModel) -> None:
    # A stable import neither side can import is a typo in the entry, not a removal.
    for entry in config.stable_import_entries():
        for path in entry.paths:
            if path in stable and path not in new.objects and path not in old.objects:
                raise ToolingError(
                    f"{config.pyproject} [tool.runtime-build] stable-imports: {entry.entry!r}: "
                    f"{path} is not importable from the package; fix the entry"
                )


def api_floor(config: Config, against: str | None, *, cache: bool = True) -> ApiDiff:
    """The working tree's public API vs ``against`` (default: the last release tag).

    The result's ``required_bump`` is the lowest bump a release of the working tree may
    declare.  Breaking changes matching ``config.api_ignore`` land in ``ignored`` instead,
    except the removal of a `stable-imports` path; container constants' value changes land in
    ``changed`` (patch) unless listed in ``api-strict-values``.
    ``cache`` shares the rewriter's result cache (``.cache/rewrite``): both sides mostly hit it.
    """
    cache_dir = config.root / ".cache" / "rewrite" if cache else None
    ref = against or last_release_tag(config.root, config.tag_prefix)
    if ref is None and _is_shallow(config.root):
        # A shallow CI checkout hides the release tags; "everything is new" would let a
        # breaking change through as a minor release.
        raise ToolingError(
            f"{config.root}: shallow clone and no {config.tag_prefix}X.Y.Z tag reachable from "
            "HEAD; fetch the history and tags (git fetch --unshallow --tags, or actions/checkout "
            "with fetch-depth: 0) or pass --against REF"
        )
    stable = stable_paths(config)
    with tempfile.TemporaryDirectory(prefix="apidiff-") as tmp:
        work = Path(tmp)
        # One after the other: the rewriter forks a process pool only while this process has
        # no other threads, which beats overlapping the two sides in threads.
        new = load_worktree_api(config, work / "new", cache_dir=cache_dir, keep=stable)
        old = (
            load_ref_api(
                config.root, ref, work / "old", cache_dir=cache_dir, keep=stable, today=config
            )
            if ref
            else None
        )
    old_model = old.model if old is not None else ApiModel(config.package, {})
    _check_stable(config, stable, old_model, new.model)
    diff = classify(
        compare_api(old_model, new.model, strict_values=config.api_strict_values),
        package=config.package,
        against=ref,
        ignore=config.api_ignore,
        stable=stable,
    )
    return replace(diff, notes=(old.note,)) if old is not None and old.note else diff


def _print_gate_annotations(diff: ApiDiff) -> None:
    # Under Actions the failing gate points at every break, not only at the summary line.
    for change in diff.breaking:
        annotate("error", change.message, path=change.file, line=change.line,
                 title=f"API break: {change.kind}")


def main(argv: list[str] | None = None) -> int:
    """Print the public API changes since a release and the bump they require."""
    parser = argparse.ArgumentParser(prog="python -m tooling.api", description=__doc__)
    parser.add_argument("--against", metavar="REF",
                        help="git ref to compare with (default: the last release tag)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument("--declared", metavar="BUMP", choices=BUMPS,
                        help="exit 1 when the required bump is higher than this")
    parser.add_argument("--root", type=Path, default=None, help="project root (default: here)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not use the rewriter's cache in .cache/rewrite")
    parser.add_argument("--output", metavar="FILE", type=Path, default=None,
                        help="write the report to FILE instead of stdout")
    args = parser.parse_args(argv)
    fmt = "json" if args.json else args.format
    report_to = sys.stdout

    def work() -> int:
        if args.output is not None and not args.output.parent.is_dir():
            raise ToolingError(f"--output {args.output}: no such directory; create it first")
        config = load_config(args.root)
        with step("api-diff", quiet=fmt != "text"):
            diff = api_floor(config, args.against, cache=not args.no_cache)
        for note in diff.notes:
            print(f"note: {note}", file=sys.stderr)
        _emit(render(diff, fmt), args.output, report_to)
        append_section(render(diff, "markdown") + "\n\n")  # the CI job summary, if any
        for key in diff.unused_ignores:
            print(f"warning: [tool.runtime-build.api-ignore] {key!r} matched no breaking "
                  "change; remove it", file=sys.stderr)
        if args.declared:
            problem = underbump_message(diff, parse_bump(args.declared))
            if problem:
                if fmt != "github":
                    _print_gate_annotations(diff)
                raise ToolingError(problem)
        return 0

    if fmt == "text":
        return guarded(work)
    # A machine format owns stdout: anything else printed on the way (annotations under
    # Actions, a library's stray print) goes to stderr with the errors.
    with contextlib.redirect_stdout(sys.stderr):
        return guarded(work)


def _emit(report: str, output: Path | None, stdout: TextIO) -> None:
    if output is None:
        print(report, file=stdout, flush=True)
    else:
        write_atomic(output, report + "\n")


if __name__ == "__main__":
    sys.exit(main())
