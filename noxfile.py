"""One session per user-facing job; each installs from our dependency groups and runs one stage.

The logic lives in ``tooling/``; a session only picks the environment and the command, so the
command a session runs is the one users and tests run too.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["build", "smoke", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PROJECT_DEPS: list[str] = list(PYPROJECT["project"]["dependencies"])


def _install_groups(session: nox.Session, *groups: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, *groups))


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


@nox.session(name="api-diff")
def api_diff(session: nox.Session) -> None:
    """Diff the staged package's public API against a git ref; print the required bump."""
    _install_groups(session, "apidiff")
    session.run("python", "-m", "tooling.api", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the pipeline's own test suite."""
    _install_groups(session, "test")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def workspace(session: nox.Session) -> None:
    """Run the bundled runtime's own tests on the source layout (bare imports)."""
    session.install(*PROJECT_DEPS)
    _install_groups(session, "workspace-test")
    session.chdir("workspace")
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
