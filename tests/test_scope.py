"""Which commits count for the runtime: its source, the [project] table, release-paths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import helpers
from helpers import REPO_ROOT, commit, git

from tooling.config import DEFAULT_EXCLUDES, load_config
from tooling.versioning.scope import RuntimeScope, parse_raw_log, scope_of, scoped_commits

if TYPE_CHECKING:
    from pathlib import Path

SCOPE = RuntimeScope("rt", (*DEFAULT_EXCLUDES, "tests", "fixtures/*.bin"), ("requirements/*.txt",))


def test_a_shipped_file_under_source_counts() -> None:
    assert SCOPE.counts(["rt/core.py"], project_changed=False)
    assert SCOPE.counts(["web/app.ts", "rt/tools/search.py"], project_changed=False)


def test_excluded_and_outside_files_do_not_count() -> None:
    for path in ("web/app.ts", "rt/tests/test_core.py", "rt/__pycache__/core.pyc",
                 "rt/.env", "rt/fixtures/big.bin", "rtx/core.py", "docs/rt/index.md"):
        assert not SCOPE.counts([path], project_changed=False), path


def test_pyproject_counts_only_when_its_project_table_changed() -> None:
    assert not SCOPE.counts(["pyproject.toml"], project_changed=False)
    assert SCOPE.counts(["pyproject.toml"], project_changed=True)


def test_release_paths_count() -> None:
    assert SCOPE.counts(["requirements/runtime.txt"], project_changed=False)
    assert not SCOPE.counts(["requirements/dev.in"], project_changed=False)


def test_the_bundled_project_is_scoped_to_its_workspace() -> None:
    scope = scope_of(load_config(REPO_ROOT))
    for path in ("tooling/release/run.py", "tests/test_scope.py", "docs/versions.md",
                 "README.md", "noxfile.py", ".github/workflows/ci.yml", "workspace/tests/x.py"):
        assert not scope.counts([path], project_changed=False), path
    assert scope.counts(["workspace/coordinator.py"], project_changed=False)


def test_the_raw_log_parser_reads_paths_with_spaces_and_root_commits() -> None:
    zero, blob = "0" * 40, "a" * 40
    out = (f"\0{'1' * 40}\0\n:000000 100644 {zero} {blob} A\0rt/a b.py\0"
           f":100644 100644 {blob} {'b' * 40} M\0pyproject.toml\0\0{'2' * 40}\0")
    changes = parse_raw_log(out)
    assert [c.path for c in changes["1" * 40]] == ["rt/a b.py", "pyproject.toml"]
    assert changes["1" * 40][1].old_blob == blob
    assert changes["2" * 40] == []


def test_history_compares_the_project_table_not_the_file(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "r", files={
        "pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.ruff]\nx = 1\n',
        "rt/a.py": "",
    })
    git(repo, "tag", "v1")
    ruff = commit(repo, "fix: ruff", {
        "pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.ruff]\nx = 2\n'})
    spacing = commit(repo, "fix: spacing only", {
        "pyproject.toml": '[project]\nname   =   "x"\nversion = "1.0.0"\n\n[tool.ruff]\nx = 2\n'})
    deps = commit(repo, "fix: a dependency", {
        "pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\ndependencies = ["a"]\n\n'
                          '[tool.ruff]\nx = 2\n'})
    history = scoped_commits(repo, "v1", RuntimeScope("rt", DEFAULT_EXCLUDES, ()))
    assert [c.sha for c in history.counted] == [deps]
    assert [c.sha for c in history.outside] == [ruff, spacing]
    everything = scoped_commits(repo, "v1", None)
    assert [c.sha for c in everything.counted] == [ruff, spacing, deps]
