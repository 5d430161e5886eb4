"""`nox -s lint`: every static check, one result line each.

Checks, in order (each prints `ok` or `FAIL`, its name and a summary, then one line per
problem; the exit status is 1 if any failed):

- parity: every workflow exists for both forges (`.github/workflows/` and `.gitea/workflows/`).
- generated: the generated workflow files match their definition (tooling/workflows.py).
- gitea: no `.gitea/` workflow uses a construct Gitea Actions does not honour (GITEA_RULES).
- actionlint: syntax, expressions and types of every workflow file.
- zizmor: security audit of every workflow file (offline, pedantic persona).
- ruff: `ruff check` over the pipeline's code.
- mypy: strict type check of tooling/, noxfile.py and tasks.py.

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

from tooling import workflows
from tooling.cli import guarded
from tooling.errors import ToolingError, annotate
from tooling.proc import redact, run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "CHECKS",
    "DEFAULT_GITEA_VERSION",
    "GITEA_EVENTS",
    "GITEA_RULES",
    "CheckResult",
    "GiteaRule",
    "Problem",
    "check_generated",
    "check_gitea",
    "check_parity",
    "main",
    "workflow_files",
]

CHECKS = ("parity", "generated", "gitea", "actionlint", "zizmor", "ruff", "mypy")
RUFF_TARGETS = ("tooling", "tests", "noxfile.py", "tasks.py")
MYPY_TARGETS = ("tooling", "noxfile.py", "tasks.py")


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
    """Fail when a workflow (by file stem) exists for one forge and not the other.

    Gitea reads `.gitea/workflows/` and falls back to `.github/workflows/` only when the former
    does not exist (go-gitea/gitea modules/actions/workflows.go `ListWorkflows`), so a workflow
    kept only under `.github/` silently never runs on Gitea, and vice versa on GitHub.
    """
    stems = {f: {p.stem: p for p in workflow_files(root, f)} for f in workflows.FORGES}
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

# The Gitea release every `.gitea/` workflow must work on unless `--gitea-version` says
# otherwise: 1.26 is the first that honours `concurrency` and `permissions`, which the release
# workflow relies on (one release at a time; a least-privilege job token).
DEFAULT_GITEA_VERSION = (1, 26)

# Trigger events Gitea fires: the table in Gitea's FAQ "What workflow trigger events does Gitea
# support?" (docs/content/usage/actions/faq.en-us.md) plus schedule, workflow_dispatch,
# workflow_call and workflow_run (go-gitea/gitea#24898, closed).  Gitea matches any other name
# against its own webhook event types (modules/actions/github.go `canGithubEventMatch`), which
# have no merge queue, check suite, deployment or discussion events: such a trigger never fires.
GITEA_EVENTS = frozenset({
    "create", "delete", "fork", "gollum", "push", "issues", "issue_comment", "pull_request",
    "pull_request_target", "pull_request_review", "pull_request_review_comment",
    "pull_request_comment", "release", "registry_package", "schedule", "workflow_dispatch",
    "workflow_call", "workflow_run",
})

_COMPARISON = "Gitea docs, usage/actions/comparison"


@dataclass(frozen=True)
class GiteaRule:
    """A GitHub Actions construct Gitea Actions does not honour, and why that matters."""

    ident: str
    """Short name shown with each finding."""
    construct: str
    """Where it appears in a workflow."""
    reason: str
    """What goes wrong on Gitea."""
    source: str
    """Where Gitea says so."""
    supported_since: tuple[int, int] | None
    """The first Gitea release that honours it; None when none does."""


GITEA_RULES: tuple[GiteaRule, ...] = (
    GiteaRule("merge_group", "on.merge_group",
              "Gitea has no merge queue, so this trigger never fires",
              "Gitea FAQ trigger table; modules/webhook/type.go", None),
    GiteaRule("trigger", "on.<event> for an event outside GITEA_EVENTS",
              "not an event Gitea fires, so this trigger never runs the workflow",
              "Gitea FAQ trigger table; modules/actions/github.go", None),
    GiteaRule("id-token", "permissions: id-token: write (or write-all)",
              "Gitea issues no OIDC tokens, so trusted publishing cannot work; publish with a"
              " token secret", "go-gitea/gitea#26383 (open), PR #39052 (unmerged)", None),
    GiteaRule("environment", "jobs.<id>.environment",
              "ignored: its protection rules (required reviewers, branch rules) and secrets"
              " never apply", f"{_COMPARISON} (still listed for 1.27)", None),
    GiteaRule("runs-on", "jobs.<id>.runs-on as a mapping (group:/labels:)",
              "only `runs-on: label` or a list of labels is understood",
              f"{_COMPARISON} (still listed for 1.27)", None),
    GiteaRule("concurrency", "concurrency (workflow or job)",
              "ignored before Gitea 1.26: runs are not serialized or cancelled",
              f"{_COMPARISON} (listed up to 1.25)", (1, 26)),
    GiteaRule("permissions", "permissions (workflow or job)",
              "ignored before Gitea 1.26: the job token keeps its default scope",
              f"{_COMPARISON} (listed up to 1.25)", (1, 26)),
    GiteaRule("timeout-minutes", "jobs.<id>.timeout-minutes",
              "ignored before Gitea 1.27: a hung job is not stopped",
              f"{_COMPARISON} (listed up to 1.26)", (1, 27)),
    GiteaRule("continue-on-error", "jobs.<id>.continue-on-error",
              "ignored before Gitea 1.27: a failing job fails the run",
              f"{_COMPARISON} (listed up to 1.26)", (1, 27)),
    GiteaRule("run-name", "run-name", "ignored by older Gitea",
              f"{_COMPARISON} (listed up to 1.22, gone by 1.25)", (1, 25)),
    GiteaRule("hashFiles", "hashFiles() in an expression",
              "older Gitea evaluates it to an empty string (cache keys collide)",
              f"{_COMPARISON} (listed in 1.20/1.21, gone by 1.25)", (1, 25)),
    GiteaRule("workflow_dispatch", "on.workflow_dispatch", "ignored by older Gitea",
              f"{_COMPARISON} (listed in 1.20, gone by 1.25)", (1, 25)),
)
_RULES = {rule.ident: rule for rule in GITEA_RULES}


def _entries(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield str(key.value), key, value


def _get(node: yaml.Node | None, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key, key_node, value in _entries(node):
        if key == name:
            return key_node, value
    return None


def _scalars(node: yaml.Node) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key)
            yield from _scalars(value)


def _events(on: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    if isinstance(on, yaml.ScalarNode):
        yield str(on.value), on
    elif isinstance(on, yaml.SequenceNode):
        for item in on.value:
            if isinstance(item, yaml.ScalarNode):
                yield str(item.value), item
    else:
        for name, key_node, _ in _entries(on):
            yield name, key_node


def _trigger_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    on = _get(doc, "on")
    for name, node in _events(on[1]) if on else ():
        if name == "merge_group":
            yield "merge_group", node, "`on: merge_group`"
        elif name not in GITEA_EVENTS:
            yield "trigger", node, f"`on: {name}`"
        elif name == "workflow_dispatch":
            yield "workflow_dispatch", node, "`on: workflow_dispatch`"


def _key_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    for key in ("run-name", "concurrency", "permissions"):
        if found := _get(doc, key):
            yield key, found[0], f"`{key}:`"
    jobs = _get(doc, "jobs")
    for job, _, body in _entries(jobs[1] if jobs else None):
        for key in ("concurrency", "permissions", "timeout-minutes", "continue-on-error",
                    "environment"):
            if hit := _get(body, key):
                yield key, hit[0], f"job `{job}` `{key}:`"
        if (hit := _get(body, "runs-on")) and isinstance(hit[1], yaml.MappingNode):
            yield "runs-on", hit[0], f"job `{job}` `runs-on:` mapping"


def _id_token_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    jobs = _get(doc, "jobs")
    scopes = [("workflow", doc)] + [
        (f"job `{job}`", body) for job, _, body in _entries(jobs[1] if jobs else None)
    ]
    for where, body in scopes:
        perms = _get(body, "permissions")
        value = perms[1] if perms else None
        if isinstance(value, yaml.ScalarNode) and value.value == "write-all":
            yield "id-token", value, f"{where} `permissions: write-all` grants id-token"
        elif (hit := _get(value, "id-token")) and getattr(hit[1], "value", None) == "write":
            yield "id-token", hit[0], f"{where} `id-token: write`"


def _findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    """(rule ident, node, detail) for every construct of GITEA_RULES in one workflow."""
    yield from _trigger_findings(doc)
    yield from _key_findings(doc)
    yield from _id_token_findings(doc)
    for scalar in _scalars(doc):
        if "hashFiles(" in str(scalar.value):
            yield "hashFiles", scalar, "`hashFiles()`"


def check_gitea(root: Path, gitea_version: tuple[int, int] = DEFAULT_GITEA_VERSION) -> CheckResult:
    """Fail on `.gitea/` workflow constructs that Gitea ``gitea_version`` does not honour."""
    problems: list[Problem] = []
    files = workflow_files(root, "gitea")
    for path in files:
        rel = _rel(root, path)
        try:
            doc = yaml.compose(path.read_text(encoding="utf-8"), Loader=workflows.WorkflowLoader)
        except yaml.YAMLError as exc:
            problems.append(Problem(rel, None, f"not valid YAML: {exc}".replace("\n", " ")))
            continue
        for ident, node, detail in _findings(doc) if doc is not None else ():
            rule = _RULES[ident]
            if rule.supported_since is not None and gitea_version >= rule.supported_since:
                continue
            problems.append(Problem(rel, node.start_mark.line + 1,
                                    f"{detail}: {rule.reason} [gitea-{ident}; {rule.source}]"))
    version = ".".join(map(str, gitea_version))
    problems.sort(key=lambda p: (p.path, p.line or 0))
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
    return [_rel(root, p) for f in workflows.FORGES for p in workflow_files(root, f)]


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


def check_zizmor(root: Path) -> CheckResult:
    """Run zizmor over every workflow file, offline (no network), pedantic persona."""
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
        problems = _zizmor_problems(done.stdout)
    except (ValueError, KeyError, IndexError, TypeError):
        problems = ()
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
    """`python -m tooling.lint [--only CHECK]... [--gitea-version X.Y] [--root DIR]`."""
    parser = argparse.ArgumentParser(prog="python -m tooling.lint", description=__doc__,
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

    runners: dict[str, Callable[[], CheckResult]] = {
        "parity": lambda: check_parity(root),
        "generated": generated,
        "gitea": lambda: check_gitea(root, args.gitea_version),
        "actionlint": lambda: check_actionlint(root),
        "zizmor": lambda: check_zizmor(root),
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
