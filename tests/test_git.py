"""The kernel's git runner and the release-tag query, on real repositories."""

from __future__ import annotations

from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.errors import ToolingError
from tooling.git import git, git_out, last_release_tag

if TYPE_CHECKING:
    from pathlib import Path


def test_the_highest_valid_release_tag_wins_and_others_are_passed_over(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    for tag in ("runtime-v0.9.0", "runtime-v0.10.0", "runtime-vnext", "runtime-v1.2",
                "runtime-v0.11.0rc1", "other-v9.0.0"):
        helpers.commit(repo, f"chore: {tag}")
        helpers.git(repo, "tag", tag)
    assert last_release_tag(repo, "runtime-v") == "runtime-v0.11.0rc1"
    assert last_release_tag(repo, "runtime-v", finals_only=True) == "runtime-v0.10.0"
    assert last_release_tag(repo, "none-v") is None


def test_a_tag_not_reachable_from_head_is_not_the_last_release(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    helpers.git(repo, "tag", "runtime-v0.1.0")
    helpers.git(repo, "switch", "-q", "-c", "side")
    helpers.commit(repo, "feat: side work")
    helpers.git(repo, "tag", "runtime-v0.2.0")
    helpers.git(repo, "switch", "-q", "main")
    assert last_release_tag(repo, "runtime-v") == "runtime-v0.1.0"


def test_a_folder_without_commits_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    helpers.git(tmp_path / "empty", "init", "-q")
    with pytest.raises(ToolingError, match="not a git repository with commits"):
        last_release_tag(tmp_path / "empty", "runtime-v")


def test_messages_read_back_in_utf8_whatever_the_commit_encoding(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    helpers.git(repo, "config", "i18n.commitEncoding", "ISO-8859-1")
    message = tmp_path / "message"
    message.write_bytes("fix: café\n".encode("latin-1"))
    helpers.git(repo, "commit", "-q", "--allow-empty", "-F", str(message))
    assert git_out(repo, "log", "-1", "--format=%s") == "fix: café"


def test_a_failing_command_names_itself_and_git_s_last_line(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    with pytest.raises(ToolingError) as caught:
        git(repo, "rev-parse", "--verify", "no-such-ref")
    message = str(caught.value)
    assert message.startswith(f"git rev-parse in {repo} failed (exit 128)")
    assert "\n" not in message
