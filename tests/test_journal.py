"""The release journal and lock: atomic records, resume points, one release at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from helpers import REPO_ROOT, SENTINEL, git, init_repo

from tooling.errors import ToolingError
from tooling.release.journal import STEPS, Journal, find_unfinished, release_lock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def _no_secret_in_any_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a test prints (or its subprocesses print) must not hold the sentinel."""
    yield
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err



def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), **extra}


def test_each_step_is_recorded_and_read_back_after_a_reload(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "1.2.0", "runtime-v1.2.0", {"base": "abc"})
    journal.begin("plan")
    journal.finish("plan", {"version": "1.2.0"})
    journal.begin("build", {"why": "intent"})
    again = Journal.load(tmp_path / "1.2.0.json")
    assert again.is_done("plan")
    assert again.was_started("build")
    assert not again.is_done("build")
    assert again.intent("build") == {"why": "intent"}
    assert again.next_step() == "build"
    assert again.plan == {"base": "abc"}
    assert again.result("plan") == {"version": "1.2.0"}


def test_a_journal_is_finished_only_when_every_step_is_done(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "1.0.0", "v1.0.0", {})
    for name in STEPS[:-1]:
        journal.begin(name)
        journal.finish(name, {})
        assert not journal.finished
    assert find_unfinished(tmp_path) is not None
    journal.begin(STEPS[-1])
    journal.finish(STEPS[-1], {})
    assert journal.finished
    assert find_unfinished(tmp_path) is None


def test_a_second_journal_for_the_same_version_is_refused(tmp_path: Path) -> None:
    Journal.create(tmp_path, "1.0.0", "v1.0.0", {})
    with pytest.raises(ToolingError, match="already exists; resume it"):
        Journal.create(tmp_path, "1.0.0", "v1.0.0", {})


def test_two_unfinished_journals_are_an_error_naming_both(tmp_path: Path) -> None:
    Journal.create(tmp_path, "1.0.0", "v1.0.0", {})
    Journal.create(tmp_path, "1.1.0", "v1.1.0", {})
    with pytest.raises(ToolingError, match=r"1\.0\.0\.json, 1\.1\.0\.json"):
        find_unfinished(tmp_path)


def test_a_damaged_journal_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "1.0.0.json").write_text('{"schema": 1, "steps": {', encoding="utf-8")
    with pytest.raises(ToolingError, match=r"1\.0\.0\.json: unreadable release journal"):
        find_unfinished(tmp_path)


def test_the_journal_never_holds_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINE_PASSWORD", SENTINEL)
    journal = Journal.create(tmp_path, "1.0.0", "v1.0.0", {"url": f"https://u:{SENTINEL}@x/"})
    journal.begin("plan")
    journal.finish("plan", {"echo": f"failed with {SENTINEL}"})
    text = (tmp_path / "1.0.0.json").read_text(encoding="utf-8")
    assert SENTINEL not in text
    assert "***" in text


def test_no_temp_file_is_left_beside_the_journal(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "1.0.0", "v1.0.0", {})
    for name in STEPS[:3]:
        journal.begin(name)
        journal.finish(name, {"n": name})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.0.0.json"]


@pytest.mark.parametrize(("point", "status"), [("build", "done"), ("build:acted", "started")])
def test_crash_hook_kills_the_process_for_real_at_the_chosen_point(
    tmp_path: Path, point: str, status: str
) -> None:
    code = textwrap.dedent(f"""
        from pathlib import Path
        from tooling.release.journal import Journal
        j = Journal.create(Path({str(tmp_path)!r}), "1.0.0", "v1.0.0", {{}})
        j.begin("build")
        j.finish("build", {{"files": []}})
        print("survived")
    """)
    done = subprocess.run([sys.executable, "-c", code], env=_env(RELEASE_CRASH_AFTER=point),
                          capture_output=True, text=True, check=False)
    assert done.returncode == -signal.SIGKILL
    assert "survived" not in done.stdout
    data = json.loads((tmp_path / "1.0.0.json").read_text(encoding="utf-8"))
    assert data["steps"]["build"]["status"] == status


_HOLDER = """
import sys, time
from pathlib import Path
from tooling.release.journal import release_lock
with release_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_release_stops_with_the_holders_pid_and_a_dead_holders_lock_is_taken(
    tmp_path: Path
) -> None:
    with subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)], env=_env(),
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            lock = release_lock(tmp_path)
            with pytest.raises(ToolingError,
                               match=rf"another release is in progress \(pid {holder.pid}"):
                lock.__enter__()
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    # The holder died without unlocking: its pid is still in the file, the lock is free.
    assert str(holder.pid) in (tmp_path / "lock").read_text(encoding="utf-8")
    with release_lock(tmp_path) as me:
        assert me.pid == os.getpid()


def test_the_release_directory_never_makes_the_tree_dirty(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    with release_lock(repo / ".release"):
        Journal.create(repo / ".release", "1.0.0", "v1.0.0", {})
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
