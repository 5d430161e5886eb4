"""`nox -s lint`: every static check, one result line each.

Checks, in order (each prints `ok` or `FAIL`, its name and a summary, then one line per
problem; the exit status is 1 if any failed):

- parity: every workflow exists for both forges (`.github/workflows/` and `.gitea/workflows/`).
- generated: the generated workflow files match their definition (tooling/ci/definitions.py).
- gitea: no `.gitea/` workflow uses a construct Gitea Actions does not honour (GITEA_RULES).
- actionlint: syntax, expressions and types of every workflow file.
- zizmor: security audit of every workflow file (offline, pedantic persona).
- ruff: `ruff check` over the pipeline's code.
- mypy: strict type check of tooling/, tests/, noxfile.py and tasks.py.

The first three are pure functions over a directory tree, so tests run them on fixture trees.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tooling.ci import workflows
from tooling.ci.gitea_rules import (
    DEFAULT_GITEA_VERSION,
    GITEA_EVENTS,
    GITEA_RULES,
    GiteaRule,
    unsupported_constructs,
)
from tooling.cli import annotate, guarded
from tooling.errors import ToolingError
from tooling.proc import run
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "CHECKS",
    "DEFAULT_GITEA_VERSION",
    "GITEA_EVENTS",
    "GITEA_RULES",
    "MYPY_TARGETS",
    "RUFF_TARGETS",
    "CheckResult",
    "GiteaRule",
    "Problem",
    "check_actionlint",
    "check_generated",
    "check_gitea",
    "check_mypy",
    "check_parity",
    "check_ruff",
    "check_zizmor",
    "main",
    "workflow_files",
]

CHECKS = ("parity", "generated", "gitea", "actionlint", "zizmor", "ruff", "mypy")
RUFF_TARGETS = ("tooling", "tests", "noxfile.py", "tasks.py")
MYPY_TARGETS = ("tooling", "tests", "noxfile.py", "tasks.py")


@dataclass(frozen=True)
class Problem:
    """One finding, located where the user must act."""

    path: str
    """The file, relative to the repository root."""
    line: int | None
    """Its 1-based line, when known."""
    message: str
    """What is wrong and what to do, on one line."""

    def __str__(self) -> str:
        """`path:line: message`."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    """The check's name, as `--only` takes it."""
    ok: bool
    """Whether it passed."""
    summary: str
    """One line saying what was checked or what failed."""
    problems: tuple[Problem, ...] = ()
    """Each finding, for the lines under the result line and the CI annotations."""


def workflow_files(root: Path, forge: workflows.Forge) -> tuple[Path, ...]:
    """List the workflow files of one forge under ``root``, sorted."""
    folder = root / workflows.WORKFLOW_DIRS[forge]
    return tuple(sorted(p for p in folder.glob("*") if p.suffix in {".yml", ".yaml"}))


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# --- parity ----------------------------------------------------------------------------------


_NAMES = {"github": "GitHub", "gitea": "Gitea"}


def check_parity(root: Path) -> CheckResult:
    """Fail when a generated workflow (by file stem) exists for one forge and not the other.

    Gitea reads `.gitea/workflows/` and falls back to `.github/workflows/` only when the former
    does not exist (go-gitea/gitea modules/actions/workflows.go `ListWorkflows`), so a workflow
    kept only under `.github/` silently never runs on Gitea, and vice versa on GitHub.
    """
    # Only the files `invoke workflows` generates: a repository's own workflows are its own.
    stems = {f: {p.stem: p for p in workflow_files(root, f) if workflows.is_generated(p)}
             for f in workflows.FORGES}
    problems = []
    pairs: tuple[tuple[workflows.Forge, workflows.Forge], ...] = (
        ("github", "gitea"), ("gitea", "github"),
    )
    for forge, other in pairs:
        for stem, path in sorted(stems[forge].items()):
            if stem not in stems[other]:
                problems.append(Problem(
                    _rel(root, path), None,
                    f"no twin in {workflows.WORKFLOW_DIRS[other]}/, so {_NAMES[other]} never"
                    " runs it; generate both with `invoke workflows`",
                ))
    both = len(set(stems["github"]) & set(stems["gitea"]))
    if problems:
        return CheckResult("parity", ok=False, summary=f"{len(problems)} without a twin",
                           problems=tuple(problems))
    return CheckResult("parity", ok=True, summary=f"{both} workflow(s) on both forges")


# --- generated -------------------------------------------------------------------------------


def check_generated(root: Path, expected: Sequence[workflows.GeneratedFile]) -> CheckResult:
    """Fail when a generated workflow file is missing, edited, outdated or orphaned."""
    stale = workflows.find_stale(root, expected)
    problems = tuple(
        Problem(str(s.path), None, f"{s.problem}; run `invoke workflows` and commit the result")
        for s in stale
    )
    if problems:
        return CheckResult("generated", ok=False, summary=f"{len(problems)} stale file(s)",
                           problems=problems)
    return CheckResult("generated", ok=True, summary=f"{len(expected)} file(s) up to date")


# --- gitea -----------------------------------------------------------------------------------


def check_gitea(root: Path, gitea_version: tuple[int, int] = DEFAULT_GITEA_VERSION) -> CheckResult:
    """Fail on `.gitea/` workflow constructs that Gitea ``gitea_version`` does not honour."""
    problems: list[Problem] = []
    files = workflow_files(root, "gitea")
    for path in files:
        rel = _rel(root, path)
        try:
            found = unsupported_constructs(path.read_text(encoding="utf-8"), gitea_version)
        except yaml.YAMLError as exc:
            problems.append(Problem(rel, None, f"not valid YAML: {exc}".replace("\n", " ")))
            continue
        problems.extend(
            Problem(rel, c.line, f"{c.detail}: {c.rule.reason} [gitea-{c.rule.ident};"
                    f" {c.rule.source}]")
            for c in found
        )
    version = ".".join(map(str, gitea_version))
    if problems:
        return CheckResult("gitea", ok=False, summary=f"{len(problems)} construct(s) Gitea"
                           f" {version} does not honour", problems=tuple(problems))
    return CheckResult("gitea", ok=True,
                       summary=f"{len(files)} file(s) fit Gitea {version} and later")


# --- external tools --------------------------------------------------------------------------


def _tool(name: str) -> str | None:
    # The venv running this module first: that is where the lint group installed it.
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _missing(check: str, program: str) -> CheckResult:
    return CheckResult(check, ok=False, summary=f"{program} not found; install the lint group:"
                       " python -m pip install --group lint")


_LOCATED = re.compile(r"^(?P<path>[^:\s][^:]*):(?P<line>\d+):(?:\d+:)?\s*(?P<msg>.*)$")


def _parse_located(output: str) -> tuple[Problem, ...]:
    matches = (_LOCATED.match(line.strip()) for line in output.splitlines())
    # mypy's `note:` lines only add context to the error above them.
    return tuple(
        Problem(m["path"], int(m["line"]), m["msg"].removeprefix("error: "))
        for m in matches
        if m and not m["msg"].startswith("note:")
    )


def _tool_result(check: str, argv: Sequence[str], root: Path, ok_summary: str) -> CheckResult:
    done = run(argv, cwd=root, check=False, timeout=900, what=check)
    output = redact(done.stdout + done.stderr)
    if done.returncode == 0:
        return CheckResult(check, ok=True, summary=ok_summary)
    problems = _parse_located(output)
    if not problems:
        tail = output.strip().splitlines()[-1:] or ["no output"]
        return CheckResult(check, ok=False, summary=f"exit {done.returncode}: {tail[0]}")
    return CheckResult(check, ok=False, summary=f"{len(problems)} finding(s)", problems=problems)


def _all_workflows(root: Path) -> list[str]:
    """The workflow files to lint: the generated ones where `invoke workflows` wrote any.

    A monorepo's own workflows are its business; a tree without generated files (before
    `invoke workflows`, or a fixture) has every file checked.
    """
    found = [p for f in workflows.FORGES for p in workflow_files(root, f)]
    ours = [p for p in found if workflows.is_generated(p)]
    return [_rel(root, p) for p in (ours or found)]


def check_actionlint(root: Path) -> CheckResult:
    """Run actionlint over every workflow file of both forges."""
    program = _tool("actionlint")
    if program is None:
        return _missing("actionlint", "actionlint")
    files = _all_workflows(root)
    if not files:
        return CheckResult("actionlint", ok=True, summary="no workflow files")
    return _tool_result("actionlint", [program, "-oneline", "-no-color", *files], root,
                        f"{len(files)} file(s) clean")


def _zizmor_problems(report: str) -> tuple[Problem, ...]:
    problems = []
    for finding in json.loads(report):
        primary = next((loc for loc in finding["locations"]
                        if loc["symbolic"]["kind"] == "Primary"), finding["locations"][0])
        path = primary["symbolic"]["key"].get("Local", {}).get("verbatim_path", "?")
        row = primary["concrete"]["location"]["start_point"]["row"] + 1
        note = primary["symbolic"].get("annotation") or ""
        problems.append(Problem(path, row, f"{finding['ident']}: {finding['desc']} ({note})"))
    return tuple(sorted(problems, key=lambda p: (p.path, p.line or 0)))


def _accepted(problem: Problem, *, gitea_legacy: bool) -> bool:
    # Files for Gitea before 1.26 leave `concurrency` out on purpose: that Gitea ignores it,
    # and the release serializes itself (its lock and the atomic push; docs/ci.md).
    return (gitea_legacy and problem.path.startswith(".gitea/")
            and problem.message.startswith("concurrency-limits:"))


def check_zizmor(root: Path, *, gitea_legacy: bool = False) -> CheckResult:
    """Run zizmor over the workflow files, offline (no network), pedantic persona."""
    program = _tool("zizmor")
    if program is None:
        return _missing("zizmor", "zizmor")
    files = _all_workflows(root)
    if not files:
        return CheckResult("zizmor", ok=True, summary="no workflow files")
    argv = [program, "--offline", "--persona", "pedantic", "--format", "json", "--no-progress",
            *files]
    done = run(argv, cwd=root, check=False, timeout=300, what="zizmor")
    if done.returncode == 0:
        return CheckResult("zizmor", ok=True, summary=f"{len(files)} file(s) clean")
    try:
        found = _zizmor_problems(redact(done.stdout))
    except (ValueError, KeyError, IndexError, TypeError):
        found = ()
    problems = tuple(p for p in found if not _accepted(p, gitea_legacy=gitea_legacy))
    if found and not problems:
        return CheckResult("zizmor", ok=True, summary=f"{len(files)} file(s) clean")
    if not problems:
        tail = redact(done.stderr).strip().splitlines()[-1:] or ["no output"]
        return CheckResult("zizmor", ok=False, summary=f"exit {done.returncode}: {tail[0]}")
    return CheckResult("zizmor", ok=False, summary=f"{len(problems)} finding(s)",
                       problems=problems)


def _present(root: Path, targets: Sequence[str]) -> list[str]:
    return [t for t in targets if (root / t).exists()]


def check_ruff(root: Path) -> CheckResult:
    """Run `ruff check` with the project's configuration."""
    targets = _present(root, RUFF_TARGETS)
    argv = [sys.executable, "-m", "ruff", "check", "--no-fix", "--output-format", "concise",
            *targets]
    return _tool_result("ruff", argv, root, f"clean: {' '.join(targets)}")


def check_mypy(root: Path) -> CheckResult:
    """Run mypy (strict, from the project's configuration)."""
    targets = _present(root, MYPY_TARGETS)
    argv = [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary", *targets]
    return _tool_result("mypy", argv, root, f"clean: {' '.join(targets)}")


# --- main ------------------------------------------------------------------------------------


def _version(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: give a Gitea version like 1.26")
    return int(m[1]), int(m[2])


def _report(result: CheckResult) -> None:
    status = "ok" if result.ok else "FAIL"
    print(f"{status:<4}  {result.name:<10}  {result.summary}", flush=True)
    for problem in result.problems:
        print(f"      {problem}", flush=True)
        annotate("error", problem.message, path=problem.path, line=problem.line,
                 title=f"lint: {result.name}")


def main(argv: list[str] | None = None) -> int:
    """`python -m tooling.ci [--only CHECK]... [--gitea-version X.Y] [--root DIR]`."""
    parser = argparse.ArgumentParser(prog="python -m tooling.ci", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=CHECKS, metavar="CHECK",
                        help=f"run only this check (repeatable): {', '.join(CHECKS)}")
    parser.add_argument("--gitea-version", type=_version, default=DEFAULT_GITEA_VERSION,
                        metavar="X.Y", help="the oldest Gitea the .gitea/ workflows must work on"
                        " (default: %(default)s)")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the repository root (default: the current directory)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()

    def generated() -> CheckResult:
        try:
            settings = workflows.settings_from_project(root)
            return check_generated(root, workflows.expected_files(settings))
        except ToolingError as exc:
            return CheckResult("generated", ok=False, summary=redact(exc.message))

    def legacy() -> bool:
        try:
            return workflows.settings_from_project(root).gitea_legacy
        except ToolingError:
            return False

    runners: dict[str, Callable[[], CheckResult]] = {
        "parity": lambda: check_parity(root),
        "generated": generated,
        "gitea": lambda: check_gitea(root, args.gitea_version),
        "actionlint": lambda: check_actionlint(root),
        "zizmor": lambda: check_zizmor(root, gitea_legacy=legacy()),
        "ruff": lambda: check_ruff(root),
        "mypy": lambda: check_mypy(root),
    }

    def work() -> int:
        if not root.is_dir():
            raise ToolingError(f"{root}: not a directory; pass the repository root as --root")
        failed = 0
        for name in args.only or CHECKS:
            try:
                result = runners[name]()
            except ToolingError as exc:
                result = CheckResult(name, ok=False, summary=redact(exc.message))
            _report(result)
            failed += not result.ok
        if failed:
            print(f"error: {failed} lint check(s) failed", file=sys.stderr)
            return 1
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
