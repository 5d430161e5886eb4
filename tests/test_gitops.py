"""Git for the release, against real repositories and real bare remotes."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import SENTINEL, commit, git, init_repo, make_bare_remote

from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.gitops import (
    PUBLISH_CREDENTIALS,
    create_tag,
    find_release_commit,
    preflight,
    push_release,
    release_message,
    remote_tag_commit,
    scratch_worktree,
    set_project_version,
)

PYPROJECT = """\
# the project
[project]
name = "demo"   # keep me
version = "0.1.0"
requires-python = ">=3.11"

[tool.runtime-build]
source = "src"
package = "demo_pkg"
release-branch = "main"
"""

@pytest.fixture(autouse=True)
def _no_secret_in_any_output(capfd):
    """Whatever a test prints (or its subprocesses print) must not hold the sentinel."""
    yield
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err



@pytest.fixture
def repo(tmp_path):
    work = init_repo(tmp_path / "work", {"pyproject.toml": PYPROJECT, "src/a.py": "A = 1\n"})
    make_bare_remote(work, tmp_path / "remote.git")
    return work


@pytest.fixture
def creds(monkeypatch):
    for name in PUBLISH_CREDENTIALS:
        monkeypatch.setenv(name, SENTINEL if name == "TWINE_PASSWORD" else "http://127.0.0.1:9/")


@pytest.mark.usefixtures("creds")
def test_preflight_passes_on_a_clean_release_branch_level_with_its_remote(repo):
    state = preflight(load_config(repo))
    assert (state.branch, state.ahead, state.remote) == ("main", 0, "origin")
    assert state.head == git(repo, "rev-parse", "HEAD")


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_uncommitted_changes_naming_them(repo):
    (repo / "src" / "a.py").write_text("A = 2\n", encoding="utf-8")
    (repo / "new.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ToolingError, match=r"uncommitted changes \(.*src/a\.py"):
        preflight(load_config(repo))


@pytest.mark.usefixtures("creds")
def test_preflight_allows_the_files_a_crashed_version_commit_left(repo):
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n", encoding="utf-8")
    preflight(load_config(repo), allow_dirty=["pyproject.toml", "CHANGELOG.md"])


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_another_branch(repo):
    git(repo, "switch", "-q", "-c", "feature")
    with pytest.raises(ToolingError, match="on feature, not the release branch 'main'"):
        preflight(load_config(repo))


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_a_branch_behind_its_remote(repo, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    commit(other, "fix: elsewhere")
    git(other, "push", "-q", "origin", "main")
    with pytest.raises(ToolingError, match=r"main is 1 commit\(s\) behind origin/main"):
        preflight(load_config(repo))


def test_preflight_names_missing_credentials_but_never_their_values(
    repo, monkeypatch
):
    monkeypatch.setenv("TWINE_PASSWORD", SENTINEL)
    with pytest.raises(ToolingError, match="TWINE_REPOSITORY_URL, TWINE_USERNAME") as info:
        preflight(load_config(repo))
    assert SENTINEL not in str(info.value)
    assert preflight(load_config(repo), dry_run=True).branch == "main"


def test_setting_the_version_changes_only_that_value(repo):
    set_project_version(repo / "pyproject.toml", "0.2.0")
    assert (repo / "pyproject.toml").read_text(encoding="utf-8") == PYPROJECT.replace(
        'version = "0.1.0"', 'version = "0.2.0"'
    )


def test_setting_an_invalid_version_is_refused(repo):
    with pytest.raises(ToolingError, match=r"'v1\.0' is not a release version"):
        set_project_version(repo / "pyproject.toml", "v1.0")


def test_the_version_commit_is_a_chore_so_it_asks_for_no_release():
    assert release_message("1.2.0").startswith("chore(release): ")


def test_an_earlier_runs_version_commit_is_recognised(repo):
    base = git(repo, "rev-parse", "HEAD")
    assert find_release_commit(repo, base, release_message("0.2.0")) is None
    made = commit(repo, release_message("0.2.0"))
    assert find_release_commit(repo, base, release_message("0.2.0")) == made
    assert find_release_commit(repo, base, release_message("0.3.0")) is None


def test_a_tag_at_the_same_commit_is_fine_at_another_it_is_an_error(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert create_tag(repo, "v0.2.0", head, "demo 0.2.0").created
    assert git(repo, "cat-file", "-t", "v0.2.0") == "tag"  # annotated
    assert not create_tag(repo, "v0.2.0", head, "demo 0.2.0").created
    later = commit(repo, "fix: more")
    with pytest.raises(ToolingError, match=r"already exists at .*never moved"):
        create_tag(repo, "v0.2.0", later, "demo 0.2.0")
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == head


def test_push_sends_branch_and_tag_together_and_a_second_push_is_a_no_op(repo, tmp_path):
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    first = push_release(repo, "origin", "main", "v0.2.0", made)
    assert first.pushed
    bare = tmp_path / "remote.git"
    assert git(bare, "rev-parse", "main") == made
    assert git(bare, "rev-parse", "v0.2.0^{commit}") == made
    assert remote_tag_commit(repo, "origin", "v0.2.0") == made
    assert not push_release(repo, "origin", "main", "v0.2.0", made).pushed


def test_a_push_that_lost_the_race_pushes_nothing(repo, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    commit(other, "fix: someone else")
    git(other, "push", "-q", "origin", "main")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    with pytest.raises(ToolingError, match=r"refused the atomic push.*nothing was pushed"):
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert git(tmp_path / "remote.git", "tag", "--list") == ""


def test_a_remote_tag_at_another_commit_is_a_hard_error(repo, tmp_path):
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    theirs = commit(other, release_message("0.2.0"), {"theirs.txt": "x"})
    git(other, "tag", "-a", "-m", "x", "v0.2.0")
    git(other, "push", "-q", "--atomic", "origin", "main", "v0.2.0")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    with pytest.raises(ToolingError, match="another release of this version won"):
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert git(tmp_path / "remote.git", "rev-parse", "v0.2.0^{commit}") == theirs


def test_git_errors_never_echo_a_token_from_the_remote_url(repo, capfd):
    git(repo, "remote", "set-url", "origin", f"http://bot:{SENTINEL}@127.0.0.1:9/x.git")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    with pytest.raises(ToolingError) as info:
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert SENTINEL not in str(info.value)
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_scratch_worktree_is_removed_even_after_a_failure(repo, tmp_path):
    head = git(repo, "rev-parse", "HEAD")
    where = tmp_path / "scratch"
    def use_and_fail() -> None:
        with scratch_worktree(repo, head, where) as tree:
            assert (tree / "src" / "a.py").is_file()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        use_and_fail()
    assert not where.exists()
    assert git(repo, "worktree", "list").count("\n") == 0


@pytest.mark.usefixtures("creds")
def test_config_release_branch_is_honoured(repo):
    config = dataclasses.replace(load_config(repo), release_branch="release")
    with pytest.raises(ToolingError, match="not the release branch 'release'"):
        preflight(config)
