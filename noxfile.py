"""One session per user-facing job; each installs from our dependency groups and runs one stage.

The logic lives in ``tooling/``; a session only picks the environment and the command, so the
command a session runs is the one users and tests run too.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["build", "smoke", "tests"]

# The pipeline's dependency groups travel with tooling/, so copying tooling/, noxfile.py and
# tasks.py into a repository is enough (docs/adopt.md); pyproject.toml carries the same groups
# for `pip install --group dev`.  The runtime's own test tools (`workspace-test`) are the
# host's to choose: its pyproject.toml wins for that group.
GROUPS_FILE = Path("tooling/dependency-groups.toml")
HOST_GROUPS = ("workspace-test",)
_FIX = "copy tooling/ whole (it carries dependency-groups.toml) or run `invoke init`"


def _load(session: nox.Session, path: Path) -> dict[str, object]:
    if not path.is_file():
        session.error(f"{path}: not found; {_FIX}")
    try:
        return dict(nox.project.load_toml(path))
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        session.error(f"{path}: invalid TOML ({exc}); fix the file")
    raise AssertionError  # pragma: no cover - session.error raises


def _install_groups(session: nox.Session, *groups: str) -> None:
    pipeline = _load(session, GROUPS_FILE)
    host = _load(session, Path("pyproject.toml"))
    found = pipeline.get("dependency-groups")
    table = dict(found) if isinstance(found, dict) else {}
    host_table = host.get("dependency-groups")
    if isinstance(host_table, dict):
        table.update({g: host_table[g] for g in HOST_GROUPS if g in host_table})
    missing = [g for g in groups if g not in table]
    if missing:
        session.error(f"{GROUPS_FILE}: no dependency group {', '.join(missing)}; {_FIX}")
    session.install(*nox.project.dependency_groups({"dependency-groups": table}, *groups))


def _project_deps(session: nox.Session) -> list[str]:
    project = _load(session, Path("pyproject.toml")).get("project")
    deps = project.get("dependencies", []) if isinstance(project, dict) else None
    if not isinstance(deps, list):
        session.error("pyproject.toml: no [project] table with dependencies; run `invoke init`")
    return [str(d) for d in deps]


def _source(session: nox.Session) -> str:
    tool = _load(session, Path("pyproject.toml")).get("tool")
    build = tool.get("runtime-build") if isinstance(tool, dict) else None
    source = build.get("source", "workspace") if isinstance(build, dict) else "workspace"
    return str(source)


@nox.session
def build(session: nox.Session) -> None:
    """Stage and rewrite workspace/, build wheel and sdist into dist/, check them."""
    _install_groups(session, "build")
    session.run("python", "-m", "tooling.build", *session.posargs)


@nox.session
def smoke(session: nox.Session) -> None:
    """Install the built wheel in a fresh venv per Python 3.11+ and prove it works."""
    _install_groups(session, "smoke")
    session.run("python", "-m", "tooling.smoke", *session.posargs)


@nox.session
def doctor(session: nox.Session) -> None:
    """Read the runtime tree and its settings; list every finding with its exact fix."""
    session.install(*_project_deps(session))
    _install_groups(session, "doctor")
    session.run("python", "-m", "tooling.doctor", *session.posargs)


@nox.session(name="api-diff")
def api_diff(session: nox.Session) -> None:
    """Diff the staged package's public API against a git ref; print the required bump."""
    _install_groups(session, "apidiff")
    # Its own stderr, not nox's default of merging it into stdout: `--format json` must stay
    # parseable when an error or warning is printed.
    session.run("python", "-m", "tooling.api", *session.posargs, stderr=None)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the pipeline's own test suite (in parallel; `-- -n 0` runs it in one process)."""
    _install_groups(session, "test")
    # Most tests wait on git, venvs and subprocesses: one worker per core keeps CI short.
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs)


@nox.session
def workspace(session: nox.Session) -> None:
    """Run the bundled runtime's own tests on the source layout (bare imports)."""
    session.install(*_project_deps(session))
    _install_groups(session, "workspace-test")
    session.chdir(_source(session))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: figures side by side in one run (never a pass/fail test)."""
    _install_groups(session, "bench")
    session.run("python", "-m", "tooling.bench", *session.posargs)


@nox.session
def corpus(session: nox.Session) -> None:
    """The rewriter on real projects: their own tests, bare and rewritten, test by test."""
    _install_groups(session, "corpus")
    session.run("python", "-m", "tooling.bench.corpus", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """The whole release against a local index and local consumer repos, in a sandbox."""
    _install_groups(session, "release", "smoke", "bench")
    session.run("python", "-m", "tooling.e2e", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks: ruff, mypy, workflow parity, actionlint and zizmor."""
    _install_groups(session, "lint", "test")
    session.run("python", "-m", "tooling.ci.lint", *session.posargs)


@nox.session
def versions(session: nox.Session) -> None:
    """Every place a version lives, side by side; fails when the project's sources disagree."""
    _install_groups(session, "release")
    session.run("python", "-m", "tooling.release.survey", *session.posargs)
