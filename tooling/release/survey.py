"""``invoke versions``: every place a version lives, side by side; non-zero when ours disagree.

The project's own sources must agree: ``[project] version``, the last release tag, the built
wheel's (and sdist's) metadata and ``__version__`` in the built wheel.  The index and the
consumers' pins are reported for information: lagging pins are the drift guard's business.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from tooling.build.metadata import BuiltVersions, built_files, read_built
from tooling.cli import annotate, format_table, guarded
from tooling.config import find_root, read_pyproject
from tooling.errors import ToolingError
from tooling.index import index_url_from_env, latest_version, read_project
from tooling.secrets import redact
from tooling.version import is_valid_version, validate_version
from tooling.versioning.history import last_release_tag

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tooling.cascade.consumers import Consumer

__all__ = [
    "VersionSource",
    "VersionsReport",
    "collect_versions",
    "main",
    "render_table",
    "report_to_json",
]


@dataclass(frozen=True)
class VersionSource:
    """One place a version lives, and what it says."""

    place: str
    """What it is: ``[project] version``, ``last release tag``, ``wheel METADATA``..."""
    where: str
    """The file, tag, URL or consumer it was read from."""
    version: str | None
    """The version it states; None when absent or unreadable."""
    status: str
    """``ok``, ``differs``, ``invalid``, ``absent``, ``not configured``, ``not read``,
    ``unreachable``; for consumer pins ``current``, ``lags`` or ``ahead``."""
    detail: str
    """One line: how it was read, or what is wrong and what to do."""


@dataclass(frozen=True)
class VersionsReport:
    """The whole table and the disagreements found among the project's own sources."""

    version: str | None
    """``[project] version``, the one source (None if missing or invalid)."""
    sources: tuple[VersionSource, ...]
    """Every place, in table order."""
    problems: tuple[str, ...]
    """One line per disagreement among our own sources; empty when they agree."""

    @property
    def ok(self) -> bool:
        """Whether the project's own sources agree."""
        return not self.problems


def _pyproject(root: Path) -> tuple[dict[str, str], VersionSource, str | None]:
    path = root / "pyproject.toml"
    data = read_pyproject(path)
    project = data.get("project")
    project = project if isinstance(project, dict) else {}
    tool = data.get("tool")
    build = tool.get("runtime-build", {}) if isinstance(tool, dict) else {}
    build = build if isinstance(build, dict) else {}
    settings = {
        "name": str(project.get("name", "")),
        "package": str(build.get("package", "molecule_runtime")),
        "tag_prefix": str(build.get("tag-prefix", "runtime-v")),
    }
    raw = project.get("version")
    if not isinstance(raw, str):
        detail = "[project] version is missing; it is the one source, set it"
        row = VersionSource("[project] version", "pyproject.toml", None, "absent", detail)
        return settings, row, f"{path}: [project] version is missing; set it"
    try:
        validate_version(raw, where=f"{path} [project] version")
    except ToolingError as exc:
        return settings, VersionSource("[project] version", "pyproject.toml", raw, "invalid",
                                       exc.message), exc.message  # fmt: skip
    return settings, VersionSource("[project] version", "pyproject.toml", raw, "ok",
                                   "the one source"), None  # fmt: skip


def _tag_row(root: Path, prefix: str, version: str | None) -> tuple[VersionSource, str | None]:
    try:
        tag = last_release_tag(root, prefix)
    except ToolingError as exc:
        return VersionSource("last release tag", f"{prefix}*", None, "not read", exc.message), None
    if tag is None:
        detail = f"no {prefix}* tag reachable from HEAD yet (or tags not fetched)"
        return VersionSource("last release tag", f"{prefix}*", None, "absent", detail), None
    value = tag[len(prefix) :]
    if version is None or value == version:
        return VersionSource("last release tag", tag, value, "ok", "reachable from HEAD"), None
    problem = (
        f"pyproject.toml [project] version is {version} but the last release tag is {tag}; "
        "finish the release (invoke tag) or set the version back to the tagged one"
    )
    return VersionSource("last release tag", tag, value, "differs", problem), problem


def _same(a: str | None, b: str | None) -> bool:
    try:
        return a is not None and b is not None and Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _built_rows(
    built: BuiltVersions, rel: str, package: str, version: str | None
) -> tuple[list[VersionSource], list[str]]:
    place = "wheel METADATA" if built.kind == "wheel" else "sdist PKG-INFO"
    if built.error or built.version is None:
        problem = f"{rel}: unreadable ({built.error or 'no Version'}); rebuild with nox -s build"
        return [VersionSource(place, rel, None, "invalid", problem)], [problem]
    problems: list[str] = []
    if not _same(built.version, version):
        problems.append(
            f"{rel}: {place.split()[1]} says {built.version} but pyproject.toml says {version}; "
            "rebuild with nox -s build (and remove stale files from dist/)"
        )
    elif not _same(built.version, built.filename_version):
        problems.append(f"{rel}: the file name and {place.split()[1]} disagree; rebuild it")
    detail = problems[0] if problems else f"Name: {built.name}"
    rows = [VersionSource(place, rel, built.version, "differs" if problems else "ok", detail)]
    if built.dunder is not None:
        dunder = built.dunder
        status = "ok" if not dunder.problem else "invalid" if dunder.value is None else "differs"
        rows.append(VersionSource(f"{package}.__version__", rel, dunder.value, status,
                                  dunder.problem or dunder.how))  # fmt: skip
        problems.extend([f"{rel}: {dunder.problem}"] if dunder.problem else [])
    return rows, problems


def _dist_rows(
    root: Path, dist: Path, settings: Mapping[str, str], version: str | None
) -> tuple[list[VersionSource], list[str]]:
    rows: list[VersionSource] = []
    problems: list[str] = []
    files = built_files(dist, settings["name"])
    for path in files:
        rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        found, trouble = _built_rows(read_built(path, settings["package"]), rel,
                                     settings["package"], version)  # fmt: skip
        rows.extend(found)
        problems.extend(trouble)
    if not any(p.name.endswith(".whl") for p in files):
        where = str(dist.relative_to(root)) if dist.is_relative_to(root) else str(dist)
        rows.insert(0, VersionSource("wheel METADATA", f"{where}/", None, "absent",
                                     "no built wheel; run nox -s build"))  # fmt: skip
    return rows, problems


def _index_row(name: str, index_url: str | None, version: str | None) -> VersionSource:
    if not index_url:
        return VersionSource("index latest", "RUNTIME_INDEX_URL", None, "not configured",
                             "set RUNTIME_INDEX_URL to the index's simple API root")  # fmt: skip
    shown = redact(index_url)
    try:
        project = read_project(index_url, name, attempts=2, backoff=0.2, timeout=15.0)
    except ToolingError as exc:
        return VersionSource("index latest", shown, None, "unreachable", redact(exc.message))
    latest = latest_version(project)
    newest = latest_version(project, include_prereleases=True)
    if newest is None:
        return VersionSource("index latest", shown, None, "absent", f"{name} not on the index")
    notes = [f"newest pre-release {newest}"] if newest != latest else []
    if version is not None and version not in project.versions():
        notes.append(f"{version} is not published")
    return VersionSource("index latest", shown, latest or newest, "ok", "; ".join(notes) or "-")


def _consumer_row(
    consumer: Consumer, version: str | None, *, token: str | None, env: Mapping[str, str],
    scratch: Path,
) -> VersionSource:
    # Imported here: only this report reads consumer remotes.
    from tooling.cascade.converge import read_remote

    place = f"consumer {consumer.name}" + (" (exempt)" if consumer.exempt else "")
    pinned_in = consumer.pin_file or ", ".join(consumer.requirements)
    where = f"{redact(consumer.url)}@{consumer.branch}:{pinned_in}"
    if consumer.needs_token and token is None:
        return VersionSource(place, where, None, "not read", "no CASCADE_TOKEN for this remote")
    try:
        remote = read_remote(consumer, consumer.branch, env=env, scratch=scratch)
    except ToolingError as exc:
        return VersionSource(place, where, None, "not read", redact(exc.message))
    stated = remote.stated(consumer)
    if stated.problem:
        return VersionSource(place, where, None, "invalid", stated.problem)
    if consumer.pin_file is None and stated.version is not None:
        return _pin_row(place, where, f"{stated.version}\n".encode(), version)
    if remote.data is None:
        return VersionSource(place, where, None, "absent", f"nothing pins it in {pinned_in}")
    return _pin_row(place, where, remote.data, version)


def _pin_row(place: str, where: str, data: bytes, version: str | None) -> VersionSource:
    # Imported here: only this report reads consumer pins.
    from tooling.cascade.pins import read_pin

    first = read_pin(data)
    text = data.decode("utf-8", "replace")
    if text != f"{first}\n" or not is_valid_version(first):
        # The whole file goes to the validator, so a second line is named as such.
        shown = text[:-1] if text.endswith("\n") and text.count("\n") == 1 else text
        try:
            validate_version(shown, where=f"pin {where}")
        except ToolingError as exc:
            return VersionSource(place, where, first or None, "invalid", exc.message)
    if version is None or first == version:
        return VersionSource(place, where, first, "current", "-")
    status = "lags" if Version(first) < Version(version) else "ahead"
    return VersionSource(place, where, first, status, f"pyproject.toml says {version}")


def _consumer_rows(path: Path, version: str | None) -> list[VersionSource]:
    if not path.is_file():
        return [VersionSource("consumers", str(path), None, "not configured", "no consumers.toml")]
    # Imported here: only this report needs the consumer list.
    from tooling.cascade.consumers import load_consumers
    from tooling.cascade.gitenv import cascade_token, git_env

    consumers = load_consumers(path).consumers
    token = cascade_token()
    env = git_env(token)
    with (
        tempfile.TemporaryDirectory(prefix="versions-pins-") as scratch,
        ThreadPoolExecutor(max_workers=min(8, len(consumers) or 1)) as pool,
    ):
        return list(pool.map(
            lambda c: _consumer_row(c, version, token=token, env=env, scratch=Path(scratch)),
            consumers,
        ))


def collect_versions(
    root: Path,
    *,
    dist: Path | None = None,
    consumers: Path | None = None,
    index_url: str | None = None,
) -> VersionsReport:
    """Read every place a version lives; list the disagreements among the project's own.

    ``consumers=None`` skips the consumers' pins; ``index_url=None`` reports the index as not
    configured.
    """
    settings, first, problem = _pyproject(root)
    version = first.version if first.status == "ok" else None
    problems = [problem] if problem else []
    tag, tag_problem = _tag_row(root, settings["tag_prefix"], version)
    problems.extend([tag_problem] if tag_problem else [])
    dist_rows, dist_problems = _dist_rows(root, dist or root / "dist", settings, version)
    problems.extend(dist_problems)
    rows = [first, tag, *dist_rows, _index_row(settings["name"], index_url, version)]
    if consumers is not None:
        rows.extend(_consumer_rows(consumers, version))
    return VersionsReport(version, tuple(rows), tuple(problems))


def render_table(report: VersionsReport) -> str:
    """Render the report as an aligned text table, problems after it."""
    header = ("place", "version", "status", "detail", "where")
    body = [(s.place, s.version or "-", s.status, s.detail, s.where) for s in report.sources]
    lines = format_table(header, body, rule=True).splitlines()
    verdict = "our sources agree" if report.ok else "our sources DISAGREE:"
    lines.append(verdict)
    lines.extend(f"  - {problem}" for problem in report.problems)
    return redact("\n".join(line.rstrip() for line in lines))


def report_to_json(report: VersionsReport) -> dict[str, object]:
    """Return the report as ``invoke versions --json`` prints it."""
    return {
        "ok": report.ok,
        "version": report.version,
        "sources": [asdict(source) for source in report.sources],
        "problems": list(report.problems),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.release.survey``: the table of every version; exit 1 if ours disagree."""
    parser = argparse.ArgumentParser(
        prog="python -m tooling.release.survey", description=main.__doc__
    )
    parser.add_argument("--root", type=Path, default=None, help="project root (default: here)")
    parser.add_argument("--dist", type=Path, default=None, help="built files (default: dist/)")
    parser.add_argument("--consumers", type=Path, default=None,
                        help="consumer list (default: consumers.toml at the root)")  # fmt: skip
    parser.add_argument("--no-consumers", action="store_true", help="skip the consumers' pins")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    def work() -> int:
        root = find_root(args.root)
        consumers = None if args.no_consumers else (args.consumers or root / "consumers.toml")
        report = collect_versions(
            root, dist=args.dist, consumers=consumers, index_url=index_url_from_env()
        )
        if args.json:
            print(json.dumps(report_to_json(report), indent=2))
        else:
            print(render_table(report))
        for problem in report.problems:
            annotate("error", problem, path="pyproject.toml", title="versions disagree")
        if not report.ok:
            print(f"error: {len(report.problems)} disagreement(s) among the project's own "
                  "version sources (listed above)", file=sys.stderr)  # fmt: skip
            return 1
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
