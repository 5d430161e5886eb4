"""Git for the release, against real repositories and real bare remotes."""

from __future__ import annotations

import base64
import dataclasses
import http.server
import os
import subprocess
import threading
from typing import TYPE_CHECKING, ClassVar

import pytest
from helpers import SENTINEL, commit, git, init_repo, make_bare_remote

from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.gitauth import auth_config_env, origin_auth_env
from tooling.release.credentials import PUBLISH_CREDENTIALS, publish_auth
from tooling.release.gitcore import remote_tag_commit
from tooling.release.repo import preflight
from tooling.release.tagpush import create_tag, push_release, tag_message
from tooling.release.versioncommit import find_release_commit, release_message, set_project_version
from tooling.release.worktree import scratch_worktree
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

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
def _no_secret_in_any_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a test prints (or its subprocesses print) must not hold the sentinel."""
    yield
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err



@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = init_repo(tmp_path / "work", {"pyproject.toml": PYPROJECT, "src/a.py": "A = 1\n"})
    make_bare_remote(work, tmp_path / "remote.git")
    return work


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PUBLISH_CREDENTIALS:
        monkeypatch.setenv(name, SENTINEL if name == "TWINE_PASSWORD" else "http://127.0.0.1:9/")


@pytest.mark.usefixtures("creds")
def test_preflight_passes_on_a_clean_release_branch_level_with_its_remote(repo: Path) -> None:
    state = preflight(load_config(repo))
    assert (state.branch, state.ahead, state.remote) == ("main", 0, "origin")
    assert state.head == git(repo, "rev-parse", "HEAD")


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_uncommitted_changes_naming_them(repo: Path) -> None:
    (repo / "src" / "a.py").write_text("A = 2\n", encoding="utf-8")
    (repo / "new.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ToolingError, match=r"uncommitted changes \(.*src/a\.py"):
        preflight(load_config(repo))


@pytest.mark.usefixtures("creds")
def test_preflight_allows_the_files_a_crashed_version_commit_left(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT + "\n", encoding="utf-8")
    preflight(load_config(repo), allow_dirty=["pyproject.toml", "CHANGELOG.md"])


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_another_branch(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    with pytest.raises(ToolingError, match="on feature, not the release branch 'main'"):
        preflight(load_config(repo))


@pytest.mark.usefixtures("creds")
def test_preflight_refuses_a_branch_behind_its_remote(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    commit(other, "fix: elsewhere")
    git(other, "push", "-q", "origin", "main")
    with pytest.raises(ToolingError, match=r"main is 1 commit\(s\) behind origin/main"):
        preflight(load_config(repo))


def test_preflight_names_missing_credentials_but_never_their_values(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", SENTINEL)
    with pytest.raises(ToolingError, match="TWINE_REPOSITORY_URL, TWINE_USERNAME") as info:
        preflight(load_config(repo))
    assert SENTINEL not in str(info.value)
    assert preflight(load_config(repo), dry_run=True).branch == "main"


def test_setting_the_version_changes_only_that_value(repo: Path) -> None:
    set_project_version(repo / "pyproject.toml", "0.2.0")
    assert (repo / "pyproject.toml").read_text(encoding="utf-8") == PYPROJECT.replace(
        'version = "0.1.0"', 'version = "0.2.0"'
    )


def test_setting_an_invalid_version_is_refused(repo: Path) -> None:
    with pytest.raises(ToolingError, match=r"'v1\.0' is not a release version"):
        set_project_version(repo / "pyproject.toml", "v1.0")


def test_the_version_commit_is_a_chore_so_it_asks_for_no_release() -> None:
    assert release_message("1.2.0").startswith("chore(release): ")


def test_an_earlier_runs_version_commit_is_recognised(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    assert find_release_commit(repo, base, release_message("0.2.0")) is None
    made = commit(repo, release_message("0.2.0"))
    assert find_release_commit(repo, base, release_message("0.2.0")) == made
    assert find_release_commit(repo, base, release_message("0.3.0")) is None


def test_a_tag_at_the_same_commit_is_fine_at_another_it_is_an_error(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert create_tag(repo, "v0.2.0", head, "demo 0.2.0").created
    assert git(repo, "cat-file", "-t", "v0.2.0") == "tag"  # annotated
    assert not create_tag(repo, "v0.2.0", head, "demo 0.2.0").created
    later = commit(repo, "fix: more")
    with pytest.raises(ToolingError, match=r"already exists at .*never moved"):
        create_tag(repo, "v0.2.0", later, "demo 0.2.0")
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == head


def test_push_sends_branch_and_tag_together_and_a_second_push_is_a_no_op(
    repo: Path, tmp_path: Path
) -> None:
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    first = push_release(repo, "origin", "main", "v0.2.0", made)
    assert first.pushed
    bare = tmp_path / "remote.git"
    assert git(bare, "rev-parse", "main") == made
    assert git(bare, "rev-parse", "v0.2.0^{commit}") == made
    assert remote_tag_commit(repo, "origin", "v0.2.0") == made
    assert not push_release(repo, "origin", "main", "v0.2.0", made).pushed


def test_a_push_that_lost_the_race_pushes_nothing(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    commit(other, "fix: someone else")
    git(other, "push", "-q", "origin", "main")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    with pytest.raises(ToolingError, match=r"refused the atomic push.*nothing was pushed"):
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert git(tmp_path / "remote.git", "tag", "--list") == ""


def test_a_remote_tag_at_another_commit_is_a_hard_error(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    theirs = commit(other, release_message("0.2.0"), {"theirs.txt": "x"})
    git(other, "tag", "-a", "-m", "x", "v0.2.0")
    git(other, "push", "-q", "--atomic", "origin", "main", "v0.2.0")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    lost = r"another release of v0\.2\.0 won .*nothing was uploaded"
    with pytest.raises(ToolingError, match=lost):
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert git(tmp_path / "remote.git", "rev-parse", "v0.2.0^{commit}") == theirs


def test_git_errors_never_echo_a_token_from_the_remote_url(
    repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    git(repo, "remote", "set-url", "origin", f"http://bot:{SENTINEL}@127.0.0.1:9/x.git")
    made = commit(repo, release_message("0.2.0"))
    create_tag(repo, "v0.2.0", made, "demo 0.2.0")
    with pytest.raises(ToolingError) as info:
        push_release(repo, "origin", "main", "v0.2.0", made)
    assert SENTINEL not in str(info.value)
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_scratch_worktree_is_removed_even_after_a_failure(repo: Path, tmp_path: Path) -> None:
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
def test_config_release_branch_is_honoured(repo: Path) -> None:
    config = dataclasses.replace(load_config(repo), release_branch="release")
    with pytest.raises(ToolingError, match="not the release branch 'release'"):
        preflight(config)


# -- credentials: a password, or GitHub's trusted publishing ---------------------------------

_OIDC = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/?x=1",
         "ACTIONS_ID_TOKEN_REQUEST_TOKEN": SENTINEL}
_PYPI = {"TWINE_REPOSITORY_URL": "https://upload.pypi.org/legacy/",
         "RUNTIME_INDEX_URL": "https://pypi.org/simple/"}


def test_a_username_and_password_publish_with_the_password() -> None:
    env = {**_PYPI, "TWINE_USERNAME": "bot", "TWINE_PASSWORD": SENTINEL, **_OIDC}
    assert publish_auth(env) == "password"


@pytest.mark.parametrize("user", [{}, {"TWINE_USERNAME": "__token__"}])
def test_github_oidc_without_a_password_is_trusted_publishing(user: dict[str, str]) -> None:
    assert publish_auth({**_PYPI, **_OIDC, **user}) == "trusted-publishing"
    assert publish_auth({**_PYPI, **_OIDC, **user,
                         "TWINE_REPOSITORY_URL": "https://test.pypi.org/legacy/"}) == (
        "trusted-publishing")


def test_trusted_publishing_to_an_index_twine_cannot_mint_for_is_refused() -> None:
    env = {**_OIDC, "TWINE_REPOSITORY_URL": "https://bot:" + SENTINEL + "@idx.example/up/",
           "RUNTIME_INDEX_URL": "https://idx.example/simple/"}
    with pytest.raises(ToolingError, match=r"only to https://upload\.pypi\.org/legacy/") as info:
        publish_auth(env)
    assert SENTINEL not in str(info.value)


def test_trusted_publishing_as_another_user_is_refused() -> None:
    with pytest.raises(ToolingError, match="TWINE_USERNAME is 'bot' with no TWINE_PASSWORD"):
        publish_auth({**_PYPI, **_OIDC, "TWINE_USERNAME": "bot"})


def test_no_password_and_no_oidc_names_every_missing_variable() -> None:
    with pytest.raises(ToolingError, match=r"^TWINE_USERNAME, TWINE_PASSWORD not set; .*"
                                           r"id-token: write"):
        publish_auth(_PYPI)
    with pytest.raises(ToolingError, match=r"^TWINE_REPOSITORY_URL, RUNTIME_INDEX_URL not set; "
                                           "trusted publishing needs"):
        publish_auth(_OIDC)


def test_preflight_accepts_trusted_publishing_in_ci(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**_PYPI, **_OIDC}.items():
        monkeypatch.setenv(key, value)
    assert preflight(load_config(repo)).branch == "main"


# -- push auth: GITHUB_TOKEN as a header for origin only --------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records each request's path and Authorization header, and answers 404."""

    seen: ClassVar[list[tuple[int, str, str | None]]] = []

    def do_GET(self) -> None:
        address = self.server.server_address
        assert isinstance(address, tuple)  # an AF_INET server: (host, port)
        self.seen.append((address[1], self.path, self.headers.get("Authorization")))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def recorders() -> Iterator[list[int]]:
    _Recorder.seen.clear()
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield [s.server_address[1] for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_token_env_is_scoped_to_the_origin_url_and_appended_to_existing_config() -> None:
    env = auth_config_env("https://bot:pw@git.example.org:8443/team/runtime.git", SENTINEL,
                          {"GIT_CONFIG_COUNT": "1"})
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert env["GIT_CONFIG_KEY_1"] == "http.https://git.example.org:8443/team/runtime.git.extraHeader"
    encoded = base64.b64encode(f"x-access-token:{SENTINEL}".encode()).decode()
    assert env["GIT_CONFIG_VALUE_1"] == f"AUTHORIZATION: basic {encoded}"
    assert SENTINEL not in "".join(env.values())
    assert redact(f"header {encoded}") == "header ***"  # registered: redacted everywhere
    assert auth_config_env("git@git.example.org:team/runtime.git", SENTINEL, {}) == {}
    assert auth_config_env("/srv/git/runtime.git", SENTINEL, {}) == {}
    assert auth_config_env("https://git.example.org/x.git", "", {}) == {}


def test_git_sends_the_token_to_origin_only_and_never_prints_it(
    repo: Path,
    recorders: list[int],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    origin_port, other_port = recorders
    origin = f"http://127.0.0.1:{origin_port}/team/runtime.git"
    git(repo, "remote", "set-url", "origin", origin)
    monkeypatch.setenv("GITHUB_TOKEN", SENTINEL)
    with pytest.raises(ToolingError) as info:
        remote_tag_commit(repo, "origin", "v0.2.0")  # git ls-remote through tooling.release.gitcore
    assert SENTINEL not in str(info.value)
    encoded = base64.b64encode(f"x-access-token:{SENTINEL}".encode()).decode()
    assert (origin_port, "/team/runtime.git/info/refs?service=git-upload-pack",
            f"basic {encoded}") in _Recorder.seen
    # With that same environment, git sends nothing to another repository on the same host
    # or to another host (a consumer's): the header is keyed by the origin URL.
    env = {**os.environ, **origin_auth_env(repo)}
    for url in (f"http://127.0.0.1:{origin_port}/team/consumer.git",
                f"http://127.0.0.1:{other_port}/team/runtime.git"):
        subprocess.run(["git", "ls-remote", url], env=env, capture_output=True, check=False)
    others = [s for s in _Recorder.seen if "consumer" in s[1] or s[0] == other_port]
    assert len(others) == 2
    assert all(auth is None for _, _, auth in others)
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err
    assert encoded not in out.out + out.err


def test_a_tag_on_a_commit_already_on_the_branch_is_pushed_alone_even_after_the_branch_moved(
    repo: Path, tmp_path: Path
) -> None:
    tagged = git(repo, "rev-parse", "HEAD")  # on origin/main already
    create_tag(repo, "v0.1.0", tagged, "demo 0.1.0")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    later = commit(other, "fix: after the tag")
    git(other, "push", "-q", "origin", "main")
    assert push_release(repo, "origin", "main", "v0.1.0", tagged).pushed
    bare = tmp_path / "remote.git"
    assert git(bare, "rev-parse", "v0.1.0^{commit}") == tagged
    assert git(bare, "rev-parse", "main") == later  # the branch was not rewound


def test_two_runs_with_byte_identical_commits_are_told_apart_and_only_one_push_wins(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same bot identity in two CI jobs, the same second: the version commits are the
    # same object, so only the release id in the tag message tells the two runs apart.
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, "2026-01-02T03:04:05Z")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    ours, theirs = commit(repo, release_message("0.2.0")), commit(other, release_message("0.2.0"))
    assert ours == theirs
    create_tag(repo, "v0.2.0", ours, tag_message("demo 0.2.0", "id-ours"))
    create_tag(other, "v0.2.0", theirs, tag_message("demo 0.2.0", "id-theirs"))
    assert push_release(other, "origin", "main", "v0.2.0", theirs).pushed
    lost = r"another release of v0\.2\.0 won .*nothing was uploaded"
    with pytest.raises(ToolingError, match=lost):
        push_release(repo, "origin", "main", "v0.2.0", ours)
    remote_tag = git(tmp_path / "remote.git", "cat-file", "-p", "v0.2.0")
    assert "release-id: id-theirs" in remote_tag
    # The winner's own re-run (a resume) still sees its push as done.
    assert not push_release(other, "origin", "main", "v0.2.0", theirs).pushed


def test_a_worktree_left_locked_by_a_killed_add_is_cleared_by_the_next_run(
    repo: Path, tmp_path: Path
) -> None:
    # `git worktree add` killed early leaves the worktree locked "initializing", half checked
    # out: remove refuses it, prune skips it, and a plain add then fails for good.
    path = tmp_path / "scratch" / "worktree"
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "worktree", "add", "--lock", "--reason", "initializing", "--detach", str(path), head)
    (path / "src" / "a.py").unlink()
    with scratch_worktree(repo, head, path) as tree:
        assert (tree / "src" / "a.py").read_text(encoding="utf-8") == "A = 1\n"
    assert not path.exists()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_a_locked_worktree_whose_directory_is_gone_is_cleared_too(
    repo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "scratch" / "worktree"
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "worktree", "add", "--lock", "--detach", str(path), head)
    subprocess.run(["rm", "-rf", str(path)], check=True)
    with scratch_worktree(repo, head, path) as tree:
        assert (tree / "pyproject.toml").is_file()
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_a_failing_worktree_add_names_the_path_and_the_commands_that_clear_it(
    repo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "scratch" / "worktree"
    with pytest.raises(ToolingError) as info, scratch_worktree(repo, "0" * 40, path):
        pass
    assert str(path) in str(info.value)
    assert f"git worktree unlock {path}" in str(info.value)
    assert "git worktree prune" in str(info.value)


def test_setting_the_version_keeps_crlf_line_endings(tmp_path: Path) -> None:
    # The build tree must hold the pyproject.toml the version commit holds, byte for byte.
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(b'[project]\r\nname = "x"  # keep\r\nversion = "0.1.0"\r\n')
    set_project_version(pyproject, "0.2.0")
    assert pyproject.read_bytes() == b'[project]\r\nname = "x"  # keep\r\nversion = "0.2.0"\r\n'
