"""`invoke release` end to end on a tiny fixture project: real git remotes, a real pypiserver,
real consumer repositories, real subprocesses killed with SIGKILL between (and inside) steps.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fault_proxy import FaultProxy, fault_proxy
from helpers import REPO_ROOT, SENTINEL, copy_fixture, git, sha256_file

from tooling.build.dists import build_distributions
from tooling.config import load_config
from tooling.e2e import CONSUMERS, make_consumer, write_consumers
from tooling.release.commands import run_publish, run_tag
from tooling.release.journal import STEPS
from tooling.release.versioncommit import set_project_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from helpers import PackageIndex

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_secret_in_output")]

DIST = "release-fixture-runtime"
_CI_VARIABLES = ("GITHUB_REF", "GITHUB_REF_NAME", "GITHUB_REF_TYPE", "GITHUB_TOKEN",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")




@dataclass
class Sandbox:
    """A clone of the fixture project with a bare remote, consumers and an index."""

    clone: Path
    remote: Path
    consumers: dict[str, Path]
    index: PackageIndex
    env: dict[str, str] = field(repr=False)  # holds the SENTINEL: never in a failure report

    def release(self, *args: str, crash: str | None = None, cwd: Path | None = None,
                stdin: int | None = None, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
        """Run the release as CI does, in a subprocess; no byte of its output may hold a secret."""
        env = {**self.env, **(env or {})}
        if crash:
            env["RELEASE_CRASH_AFTER"] = crash
        done = subprocess.run(
            [sys.executable, "-m", "tooling.release", *args], cwd=cwd or self.clone, env=env,
            capture_output=True, text=True, timeout=300, check=False,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
        )
        assert SENTINEL not in done.stdout + done.stderr
        return done

    def tags(self) -> list[str]:
        return git(self.remote, "tag", "--list").split()

    def release_commits(self) -> list[str]:
        return [s for s in git(self.remote, "log", "--format=%s", "main").splitlines()
                if s.startswith("chore(release)")]

    def indexed(self) -> dict[str, str]:
        return {p.name: sha256_file(p) for p in self.index.packages.iterdir()}

    def pin(self, consumer: str) -> str:
        return git(self.consumers[consumer], "show", "main:.runtime-version") + "\n"

    def bumps(self, consumer: str) -> int:
        log = git(self.consumers[consumer], "log", "--format=%s", "main")
        return sum(1 for s in log.splitlines() if s.startswith("chore(deps)"))


@pytest.fixture
def sandbox(tmp_path: Path, fresh_index: PackageIndex, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("CASCADE_TOKEN", SENTINEL)
    env = {**os.environ, **fresh_index.twine_env(), "PYTHONPATH": str(REPO_ROOT),
           "RUNTIME_SMOKE_PYTHONS": f"{sys.version_info.major}.{sys.version_info.minor}"}
    for name in _CI_VARIABLES:  # a run of this suite inside a release job must not leak in
        env.pop(name, None)
    clone = copy_fixture("release-project", tmp_path / "project")
    consumers = {
        spec.name: make_consumer(tmp_path / "consumers", spec, "0.1.0", DIST, env)
        for spec in CONSUMERS
    }
    write_consumers(clone / "consumers.toml", consumers)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "chore: init")
    git(clone, "tag", "-a", "-m", "release 0.1.0", "fixture-v0.1.0")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(clone), str(remote))
    git(clone, "remote", "add", "origin", str(remote))
    git(clone, "fetch", "-q", "origin")
    git(clone, "branch", "-q", "--set-upstream-to=origin/main", "main")
    (clone / "workspace" / "farewell.py").write_text(
        '"""Farewells."""\n\n\ndef farewell(name: str) -> str:\n    """Say goodbye."""\n'
        '    return f"bye {name}"\n', encoding="utf-8",
    )
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "feat: say goodbye")
    git(clone, "push", "-q", "origin", "main")
    return Sandbox(clone, remote, consumers, fresh_index, env)


def assert_released_exactly_once(box: Sandbox) -> None:
    assert box.tags() == ["fixture-v0.1.0", "fixture-v0.2.0"]
    assert box.release_commits() == ["chore(release): 0.2.0"]
    tagged = git(box.remote, "rev-parse", "fixture-v0.2.0^{commit}")
    assert git(box.remote, "rev-parse", "main") == tagged
    assert git(box.remote, "cat-file", "-t", "fixture-v0.2.0") == "tag"
    journal = json.loads((box.clone / ".release" / "0.2.0.json").read_text(encoding="utf-8"))
    built = {f["filename"]: f["sha256"] for f in journal["steps"]["build"]["result"]["files"]}
    assert sorted(built) == ["release_fixture_runtime-0.2.0-py3-none-any.whl",
                             "release_fixture_runtime-0.2.0.tar.gz"]
    assert box.indexed() == built
    assert journal["finished"]
    assert journal["steps"]["commit"]["result"]["commit"] == tagged
    for spec in CONSUMERS:
        if spec.workflows:
            assert (box.pin(spec.name), box.bumps(spec.name)) == ("0.2.0\n", 1), spec.name
        else:
            assert (box.pin(spec.name), box.bumps(spec.name)) == ("0.1.0\n", 0), spec.name
    assert git(box.clone, "status", "--porcelain") == ""
    pyproject = (box.clone / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = "0.2.0"' in pyproject
    assert "## 0.2.0" in (box.clone / "CHANGELOG.md").read_text(encoding="utf-8")


def test_a_release_killed_after_every_step_in_turn_finishes_exactly_once(sandbox: Sandbox) -> None:
    for name in STEPS:
        done = sandbox.release("--yes", crash=name)
        assert done.returncode == -signal.SIGKILL, (name, done.stderr)
        assert f"==> {name}" in done.stderr
    final = sandbox.release("--yes")
    assert final.returncode == 0, final.stderr
    assert "nothing to release" in final.stdout
    assert_released_exactly_once(sandbox)


def test_a_release_killed_inside_every_step_after_it_acted_finishes_exactly_once(
    sandbox: Sandbox
) -> None:
    # Killed after the step's action, before the journal records it: the re-run must find
    # the tag, the pushed commit, the uploaded files and the bumped consumers already there.
    for name in STEPS:
        done = sandbox.release("--yes", crash=f"{name}:acted")
        assert done.returncode == -signal.SIGKILL, (name, done.stderr)
    final = sandbox.release("--yes", "--json")
    assert final.returncode == 0, final.stderr
    assert_released_exactly_once(sandbox)


def test_a_whole_release_reports_every_step_and_a_json_summary(sandbox: Sandbox) -> None:
    done = sandbox.release("--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["version"], report["tag"]) == ("0.2.0", "fixture-v0.2.0")
    assert {f["filename"]: f["sha256"] for f in report["files"]} == sandbox.indexed()
    assert [c["result"] for c in report["cascade"]] == ["updated", "updated", "skipped"]
    assert [c["result"] for c in report["converge"]] == ["converged", "converged", "skipped"]
    for name in ("preflight", *STEPS[1:]):
        assert f"==> {name}\n" in done.stderr
        assert f"<== {name}: done in " in done.stderr
    assert_released_exactly_once(sandbox)


def test_two_releases_started_at_once_one_wins_the_other_changes_nothing(sandbox: Sandbox) -> None:
    argv = [sys.executable, "-m", "tooling.release", "--yes"]
    procs = [subprocess.Popen(argv, cwd=sandbox.clone, env=sandbox.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    for out, err in outputs:
        assert SENTINEL not in out + err
    assert codes == [0, 1], outputs
    loser = next(err for (_, err), p in zip(outputs, procs, strict=True) if p.returncode)
    assert "another release is in progress (pid" in loser
    assert "nothing was changed" in loser
    assert_released_exactly_once(sandbox)


def test_a_release_that_lost_the_race_on_another_machine_stops_and_publishes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(sandbox.remote), str(other))
    (other / "workspace" / "extra.py").write_text('"""More."""\n', encoding="utf-8")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "fix: land something first")
    done = sandbox.release("--yes", crash="tag")  # committed and tagged locally, not pushed
    assert done.returncode == -signal.SIGKILL
    git(other, "push", "-q", "origin", "main")
    again = sandbox.release("--yes")
    assert again.returncode == 1
    assert "behind origin/main" in again.stderr
    assert sandbox.tags() == ["fixture-v0.1.0"]
    assert sandbox.indexed() == {}
    assert all(sandbox.bumps(spec.name) == 0 for spec in CONSUMERS)


def test_dry_run_prints_the_plan_and_changes_nothing(sandbox: Sandbox) -> None:
    before = git(sandbox.clone, "rev-parse", "HEAD")
    text = sandbox.release("--dry-run")
    assert text.returncode == 0, text.stderr
    assert "next version: 0.2.0" in text.stdout
    assert "tag: fixture-v0.2.0" in text.stdout
    as_json = sandbox.release("--dry-run", "--json")
    plan = json.loads(as_json.stdout)
    assert {k: plan[k] for k in ("current", "next", "bump", "api_floor", "tag")} == {
        "current": "0.1.0", "next": "0.2.0", "bump": "minor", "api_floor": "minor",
        "tag": "fixture-v0.2.0",
    }
    assert [c["subject"] for c in plan["commits"]] == ["feat: say goodbye"]
    assert git(sandbox.clone, "rev-parse", "HEAD") == before
    assert git(sandbox.clone, "status", "--porcelain") == ""
    assert not (sandbox.clone / ".release").exists()
    assert sandbox.tags() == ["fixture-v0.1.0"]
    assert sandbox.indexed() == {}


def test_dry_run_refuses_a_release_below_the_api_floor(sandbox: Sandbox) -> None:
    (sandbox.clone / "workspace" / "greeting.py").write_text('"""Greetings: gone."""\n',
                                                              encoding="utf-8")
    (sandbox.clone / "workspace" / "main.py").write_text(
        '"""Entry."""\n\n\ndef main() -> int:\n    """Nothing."""\n    return 0\n',
        encoding="utf-8",
    )
    git(sandbox.clone, "add", "-A")
    git(sandbox.clone, "commit", "-q", "-m", "fix: drop greet")
    # One `fix:` commit since the last release that also removes a public function.
    git(sandbox.clone, "reset", "-q", "--soft", "HEAD~2")
    git(sandbox.clone, "commit", "-q", "-m", "fix: drop greet")
    git(sandbox.clone, "push", "-q", "--force", "origin", "main")
    done = sandbox.release("--dry-run")
    assert done.returncode == 1
    assert "the public API needs a" in done.stderr
    assert "greet" in done.stderr
    assert "--bump" in done.stderr


def test_without_a_terminal_the_release_needs_yes_and_changes_nothing(sandbox: Sandbox) -> None:
    done = sandbox.release()
    assert done.returncode == 1
    assert "pass --yes" in done.stderr
    assert not (sandbox.clone / ".release").exists()
    assert sandbox.tags() == ["fixture-v0.1.0"]


def test_missing_credentials_stop_the_release_before_anything_changes(sandbox: Sandbox) -> None:
    sandbox.env.pop("TWINE_PASSWORD")
    done = sandbox.release("--yes")
    assert done.returncode == 1
    assert "TWINE_PASSWORD not set" in done.stderr
    assert list((sandbox.clone / ".release").glob("*.json")) == []


def test_tag_and_publish_tasks_work_alone_and_twice(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(sandbox.clone)
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    # pyproject still says 0.1.0, whose tag is on an older commit: refused, never moved.
    assert run_tag(json_output=True) == 1
    assert "fixture-v0.1.0 already exists at" in capfd.readouterr().err
    set_project_version(sandbox.clone / "pyproject.toml", "0.2.0")
    git(sandbox.clone, "commit", "-q", "-am", "chore(release): 0.2.0")
    assert run_tag(json_output=True) == 0
    first = json.loads(capfd.readouterr().out)
    assert (first["tag"]["created"], first["push"]["pushed"]) == (True, True)
    assert run_tag(json_output=True) == 0
    again = json.loads(capfd.readouterr().out)
    assert (again["tag"]["created"], again["push"]["pushed"]) == (False, False)
    head = git(sandbox.clone, "rev-parse", "HEAD")
    assert git(sandbox.remote, "rev-parse", "fixture-v0.2.0^{commit}") == head
    assert git(sandbox.remote, "rev-parse", "main") == head

    build_distributions(load_config(sandbox.clone), quiet=True)
    assert run_publish(json_output=True) == 0
    published = json.loads(capfd.readouterr().out)
    assert [f["action"] for f in published["publish"]["files"]] == ["uploaded", "uploaded"]
    assert run_publish(json_output=True) == 0
    second = capfd.readouterr()
    assert [f["action"] for f in json.loads(second.out)["publish"]["files"]] == [
        "already-present", "already-present"]
    assert SENTINEL not in second.out + second.err
    assert sorted(sandbox.indexed()) == ["release_fixture_runtime-0.2.0-py3-none-any.whl",
                                         "release_fixture_runtime-0.2.0.tar.gz"]


def test_a_pushed_release_resumes_even_after_the_branch_moved_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    done = sandbox.release("--yes", crash="push")
    assert done.returncode == -signal.SIGKILL
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(sandbox.remote), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "docs: someone merged meanwhile")
    git(other, "push", "-q", "origin", "main")
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert sandbox.tags() == ["fixture-v0.1.0", "fixture-v0.2.0"]
    assert sorted(sandbox.indexed()) == ["release_fixture_runtime-0.2.0-py3-none-any.whl",
                                         "release_fixture_runtime-0.2.0.tar.gz"]
    assert sandbox.pin("gitea-template") == "0.2.0\n"


def test_a_plan_made_stale_by_a_new_commit_is_planned_again_before_anything_is_committed(
    sandbox: Sandbox,
) -> None:
    done = sandbox.release("--yes", crash="smoke")
    assert done.returncode == -signal.SIGKILL
    fixed = sandbox.clone / "workspace" / "greeting.py"
    fixed.write_text(fixed.read_text(encoding="utf-8").replace("hello", "hi"), encoding="utf-8")
    git(sandbox.clone, "commit", "-q", "-am", "fix: greet briefly")
    git(sandbox.clone, "push", "-q", "origin", "main")
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert "planning again" in again.stderr
    log = git(sandbox.remote, "log", "--format=%s", "main").splitlines()
    assert log[:2] == ["chore(release): 0.2.0", "fix: greet briefly"]
    assert [p.name.split(".stale-")[0] for p in (sandbox.clone / ".release").glob("*.stale-*")] \
        == ["0.2.0.json"]
    assert len(sandbox.indexed()) == 2


# -- CI: `invoke release --yes` on a tag push, in a fresh clone at the detached tag ----------


def ci_clone(box: Sandbox, where: Path, tag: str) -> tuple[Path, dict[str, str]]:
    """A fresh clone at ``tag``, HEAD detached, and the variables a tag-push run sees."""
    git(where.parent, "clone", "-q", str(box.remote), str(where))
    git(where, "checkout", "-q", "--detach", tag)
    return where, {"GITHUB_REF": f"refs/tags/{tag}", "GITHUB_REF_NAME": tag,
                   "GITHUB_REF_TYPE": "tag", "GITHUB_TOKEN": SENTINEL}


def tag_by_hand(box: Sandbox, version: str, tag: str, *, branch: str = "main") -> str:
    """A maintainer sets the version, commits, tags and pushes, without `invoke release`."""
    set_project_version(box.clone / "pyproject.toml", version)
    git(box.clone, "commit", "-q", "-am", f"chore: version {version}")
    git(box.clone, "tag", "-a", "-m", f"{DIST} {version}", tag)
    git(box.clone, "push", "-q", "--atomic", "origin", f"HEAD:refs/heads/{branch}", tag)
    return git(box.clone, "rev-parse", "HEAD")


def test_a_tag_pushed_by_hand_is_released_by_the_tag_run_from_its_detached_clone(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tagged = tag_by_hand(sandbox, "0.2.0", "fixture-v0.2.0")
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    done = sandbox.release("--yes", "--json", cwd=clone, env=ci)
    assert done.returncode == 0, done.stderr
    assert "is tag fixture-v0.2.0 (from GITHUB_REF)" in done.stderr
    assert "--- commit: done in an earlier run" in done.stderr
    assert "--- push: done in an earlier run" in done.stderr
    report = json.loads(done.stdout)
    assert (report["version"], report["tag"], report["commit"]) == ("0.2.0", "fixture-v0.2.0",
                                                                    tagged)
    assert {f["filename"]: f["sha256"] for f in report["files"]} == sandbox.indexed()
    assert sorted(sandbox.indexed()) == ["release_fixture_runtime-0.2.0-py3-none-any.whl",
                                         "release_fixture_runtime-0.2.0.tar.gz"]
    assert sandbox.tags() == ["fixture-v0.1.0", "fixture-v0.2.0"]
    assert git(sandbox.remote, "rev-parse", "main") == tagged  # nothing committed or pushed
    assert [(sandbox.pin(s.name), sandbox.bumps(s.name)) for s in CONSUMERS] == [
        ("0.2.0\n", 1), ("0.2.0\n", 1), ("0.1.0\n", 0)]
    assert git(clone, "status", "--porcelain") == ""


def test_a_tag_run_killed_after_building_and_inside_publishing_resumes_and_finishes_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tag_by_hand(sandbox, "0.2.0", "fixture-v0.2.0")
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    for point in ("build", "publish:acted"):
        done = sandbox.release("--yes", cwd=clone, env=ci, crash=point)
        assert done.returncode == -signal.SIGKILL, (point, done.stderr)
    final = sandbox.release("--yes", cwd=clone, env=ci)
    assert final.returncode == 0, final.stderr
    assert "--- smoke: done in an earlier run" in final.stderr
    assert len(sandbox.indexed()) == 2
    assert sandbox.tags() == ["fixture-v0.1.0", "fixture-v0.2.0"]
    assert [sandbox.bumps(s.name) for s in CONSUMERS] == [1, 1, 0]


def test_a_local_release_then_its_tag_run_only_reverifies_and_cascades(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    local = sandbox.release("--yes")
    assert local.returncode == 0, local.stderr
    published = sandbox.indexed()
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    done = sandbox.release("--yes", cwd=clone, env=ci)
    assert done.returncode == 0, done.stderr
    assert "0.2.0 is already published on the index" in done.stderr
    assert "==> read-back" in done.stderr
    assert "==> converge" in done.stderr
    journal = json.loads((clone / ".release" / "0.2.0.json").read_text(encoding="utf-8"))
    assert journal["steps"]["build"]["result"]["source"] == "index"
    assert journal["steps"]["smoke"]["result"]["summary"] == (
        "skipped: already published on the index")
    assert [f["action"] for f in journal["steps"]["publish"]["result"]["files"]] == [
        "already-present", "already-present"]
    assert sandbox.indexed() == published
    assert_released_exactly_once(sandbox)
    again = sandbox.release("--yes", cwd=clone, env=ci)  # a re-run of the same job
    assert again.returncode == 0, again.stderr
    assert "nothing to release: fixture-v0.2.0 at HEAD was released" in again.stdout


def test_a_tag_run_racing_a_local_release_that_crashed_after_its_push_publishes_it_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    crashed = sandbox.release("--yes", crash="push")
    assert crashed.returncode == -signal.SIGKILL
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    done = sandbox.release("--yes", cwd=clone, env=ci)
    assert done.returncode == 0, done.stderr
    assert "==> smoke" in done.stderr  # nothing on the index yet: built and tested here
    # The local release resumes and finds the same bytes on the index: the tag run built
    # the version commit with the timestamp the local release had built it with.
    resumed = sandbox.release("--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert_released_exactly_once(sandbox)


def test_dry_run_at_a_pushed_tag_says_it_would_release_it_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tag_by_hand(sandbox, "0.2.0", "fixture-v0.2.0")
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    done = sandbox.release("--dry-run", cwd=clone, env=ci)
    assert done.returncode == 0, done.stderr
    assert "is tag fixture-v0.2.0 (from GITHUB_REF): release 0.2.0 from it" in done.stdout
    assert not (clone / ".release").exists()
    assert sandbox.indexed() == {}


def test_a_tag_that_does_not_match_the_version_in_pyproject_is_refused_naming_both(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    git(sandbox.clone, "tag", "-a", "-m", "oops", "fixture-v0.3.0")
    git(sandbox.clone, "push", "-q", "origin", "fixture-v0.3.0")
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.3.0")
    done = sandbox.release("--yes", cwd=clone, env=ci)
    assert done.returncode == 1
    error = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(error) == 1
    assert "tag fixture-v0.3.0 was pushed" in error[0]
    assert "version at" in error[0]
    assert "is 0.1.0 (tag fixture-v0.1.0)" in error[0]
    assert sandbox.indexed() == {}
    assert all(sandbox.bumps(spec.name) == 0 for spec in CONSUMERS)


def test_a_tag_off_the_release_branch_is_refused_and_nothing_is_published(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    git(sandbox.clone, "switch", "-q", "-c", "side")
    tag_by_hand(sandbox, "0.2.0", "fixture-v0.2.0", branch="side")
    clone, ci = ci_clone(sandbox, tmp_path / "ci", "fixture-v0.2.0")
    done = sandbox.release("--yes", cwd=clone, env=ci)
    assert done.returncode == 1
    assert "which is not on origin/main (the release branch" in done.stderr
    assert sandbox.indexed() == {}
    assert list((clone / ".release").glob("*.json")) == []


# -- hardening: kills inside the narrow windows, races, lost answers, inputs -----------------


def start_release(box: Sandbox, *args: str, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a release in its own process group, so a kill takes git and twine with it."""
    return subprocess.Popen(
        [sys.executable, "-m", "tooling.release", "--yes", *args], cwd=cwd or box.clone,
        env={**box.env, **(env or {})}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the release ended before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def assert_lock_free(clone: Path) -> None:
    fd = os.open(clone / ".release" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a process still holds it
    finally:
        os.close(fd)


def assert_nothing_released(box: Sandbox) -> None:
    assert box.tags() == ["fixture-v0.1.0"]
    assert box.release_commits() == []
    assert box.indexed() == {}
    assert all(box.bumps(spec.name) == 0 for spec in CONSUMERS)


@contextlib.contextmanager
def uploads_through_proxy(box: Sandbox) -> Iterator[type[FaultProxy]]:
    with fault_proxy(box.index.url) as proxy:
        box.env["TWINE_REPOSITORY_URL"] = proxy.url + "/"
        yield proxy


def test_a_kill_inside_git_worktree_add_leaves_a_release_that_resumes(sandbox: Sandbox) -> None:
    # A smudge filter that waits makes `git worktree add` (the build's scratch checkout) hang
    # mid-checkout, while git holds the new worktree locked "initializing"; the whole process
    # group is then killed, git included.
    # (Only inside the scratch worktree: `git archive`, which the API diff runs, smudges too.)
    marker = sandbox.clone.parent / "checkout-started"
    slow = f'case "$PWD" in */worktree*) touch {marker}; sleep 60;; esac; cat'
    git(sandbox.clone, "config", "filter.slow.smudge", f"sh -c '{slow}'")
    attributes = sandbox.clone / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("*.py filter=slow\n", encoding="utf-8")
    proc = start_release(sandbox)
    wait_until(marker.exists, proc, "the worktree checkout")
    listed = git(sandbox.clone, "worktree", "list", "--porcelain")
    assert "locked" in listed  # the state that used to wedge every later run
    kill_group(proc)
    attributes.unlink()
    git(sandbox.clone, "config", "--unset", "filter.slow.smudge")
    assert_nothing_released(sandbox)
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert_released_exactly_once(sandbox)
    assert git(sandbox.clone, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert_lock_free(sandbox.clone)


def test_a_kill_between_the_version_commits_two_file_writes_resumes_once(
    sandbox: Sandbox,
) -> None:
    done = sandbox.release("--yes", crash="commit:between-writes")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert 'version = "0.2.0"' in (sandbox.clone / "pyproject.toml").read_text(encoding="utf-8")
    assert not (sandbox.clone / "CHANGELOG.md").exists()  # made by the second write
    assert_nothing_released(sandbox)
    assert_lock_free(sandbox.clone)
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert_released_exactly_once(sandbox)
    assert (sandbox.clone / "CHANGELOG.md").read_text(encoding="utf-8").count("## 0.2.0") == 1


def test_a_kill_between_tag_and_push_pushes_the_same_tag_on_resume(sandbox: Sandbox) -> None:
    done = sandbox.release("--yes", crash="tag")
    assert done.returncode == -signal.SIGKILL
    local_tag = git(sandbox.clone, "rev-parse", "refs/tags/fixture-v0.2.0")
    assert_nothing_released(sandbox)  # tagged here only
    assert_lock_free(sandbox.clone)
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert git(sandbox.remote, "rev-parse", "refs/tags/fixture-v0.2.0") == local_tag
    assert_released_exactly_once(sandbox)


def test_a_kill_while_the_upload_answer_is_on_its_way_resumes_without_a_second_upload(
    sandbox: Sandbox,
) -> None:
    with uploads_through_proxy(sandbox) as proxy:
        proxy.faults = ["hang"]
        proxy.hang_seconds = 30.0
        proc = start_release(sandbox)
        wait_until(lambda: proxy.forwarded_posts >= 1, proc, "the first upload")
        time.sleep(0.5)  # the index has stored the wheel; its answer is held back
        kill_group(proc)
        assert len(sandbox.indexed()) == 1
        again = sandbox.release("--yes")
        assert again.returncode == 0, again.stderr
        assert proxy.forwarded_posts == 2  # the wheel was never sent again
    assert_released_exactly_once(sandbox)
    assert_lock_free(sandbox.clone)


def test_a_dropped_upload_answer_is_settled_by_the_index_and_the_release_completes(
    sandbox: Sandbox,
) -> None:
    with uploads_through_proxy(sandbox) as proxy:
        proxy.faults = ["drop"]
        done = sandbox.release("--yes", "--json")
        assert done.returncode == 0, done.stderr
        assert proxy.forwarded_posts == 2
    assert "check the TWINE_" not in done.stderr
    assert_released_exactly_once(sandbox)


def test_two_clones_with_the_same_identity_release_at_once_and_exactly_one_uploads(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Same bot identity, same second: without the release id in the version commit's trailer
    # and in the tag message both runs would make the same objects and both "win".  They
    # differ, so one atomic push wins and the other uploads nothing.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(sandbox.remote), str(other))
    same_second = {"GIT_AUTHOR_DATE": "1772600767 +0000", "GIT_COMMITTER_DATE": "1772600767 +0000"}
    clones = (sandbox.clone, other)
    with uploads_through_proxy(sandbox) as proxy:
        # Both started together and stopped once tagged, so both reach the push together.
        first = [start_release(sandbox, cwd=c, env={**same_second, "RELEASE_CRASH_AFTER": "tag"})
                 for c in clones]
        for proc in first:
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL
        commits = {git(c, "rev-parse", "fixture-v0.2.0^{commit}") for c in clones}
        tags = {git(c, "rev-parse", "fixture-v0.2.0") for c in clones}
        assert (len(commits), len(tags)) == (2, 2)
        second = [start_release(sandbox, cwd=c, env=same_second) for c in clones]
        results = [(p.wait(timeout=300), *p.communicate()) for p in second]
        assert proxy.forwarded_posts == 2
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], [err[-1500:] for _, _, err in results]
    loser = next(err for code, _, err in results if code)
    errors = [ln for ln in loser.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert "another release of fixture-v0.2.0 won" in errors[0]
    assert "nothing was uploaded" in errors[0]
    assert SENTINEL not in loser
    assert sandbox.tags() == ["fixture-v0.1.0", "fixture-v0.2.0"]
    assert sandbox.release_commits() == ["chore(release): 0.2.0"]
    assert len(sandbox.indexed()) == 2
    assert [sandbox.bumps(s.name) for s in CONSUMERS] == [1, 1, 0]
    for clone in clones:
        assert_lock_free(clone)


def test_a_release_whose_commit_message_is_a_megabyte_completes(sandbox: Sandbox) -> None:
    body = ("lorem://ipsum:dolor " * 60_000)[:1_000_000]
    (sandbox.clone / "workspace" / "big.py").write_text('"""Big."""\n', encoding="utf-8")
    git(sandbox.clone, "add", "-A")
    message = sandbox.clone.parent / "message.txt"
    message.write_text(f"fix: a big one\n\n{body}\n", encoding="utf-8")
    git(sandbox.clone, "commit", "-q", "-F", str(message))
    git(sandbox.clone, "push", "-q", "origin", "main")
    start = time.monotonic()
    done = sandbox.release("--yes")
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - start < 120
    assert_released_exactly_once(sandbox)


@pytest.mark.parametrize(
    "args",
    [("--bump", ""), ("--prerelease", ""), ("--bump", " "), ("--prerelease", "gamma"),
     ("--bump", "huge")],
)
def test_an_explicit_empty_or_unknown_option_is_one_error_line_and_changes_nothing(
    sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    done = sandbox.release("--yes", *args)
    assert done.returncode == 1
    assert [ln for ln in done.stderr.splitlines() if ln.strip()][-1].startswith("error: ")
    assert args[0] in done.stderr
    assert "Traceback" not in done.stderr
    assert not (sandbox.clone / ".release").exists()
    assert_nothing_released(sandbox)


def _typo_in_a_consumer(box: Sandbox) -> None:
    path = box.clone / "consumers.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[[consumer]]", '[[consumer]]\nmode = "pusj"', 1),
                    encoding="utf-8")


def _latin1_changelog(box: Sandbox) -> None:
    (box.clone / "CHANGELOG.md").write_bytes("# Changelog\n\ncaf\xe9\n".encode("latin-1"))


@pytest.mark.parametrize(
    ("damage", "named"),
    [(_typo_in_a_consumer, "consumers.toml"), (_latin1_changelog, "CHANGELOG.md")],
)
def test_bad_inputs_read_late_are_refused_before_anything_changes(
    sandbox: Sandbox, damage: Callable[[Sandbox], None], named: str
) -> None:
    damage(sandbox)
    git(sandbox.clone, "add", "-A")
    git(sandbox.clone, "commit", "-q", "-m", "chore: damage")
    git(sandbox.clone, "push", "-q", "origin", "main")
    before = git(sandbox.clone, "rev-parse", "HEAD")
    pyproject = (sandbox.clone / "pyproject.toml").read_bytes()
    done = sandbox.release("--yes")
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert named in errors[0]
    assert "Traceback" not in done.stderr
    assert git(sandbox.clone, "rev-parse", "HEAD") == before
    assert (sandbox.clone / "pyproject.toml").read_bytes() == pyproject
    assert list((sandbox.clone / ".release").glob("*.json")) == []
    assert_nothing_released(sandbox)


@pytest.mark.parametrize("url", ["ht!tp://index/simple/", "127.0.0.1:8080/simple", "http://"])
def test_a_malformed_index_url_is_refused_in_preflight(sandbox: Sandbox, url: str) -> None:
    done = sandbox.release("--yes", env={"RUNTIME_INDEX_URL": url})
    assert done.returncode == 1
    assert "error: RUNTIME_INDEX_URL: not" in done.stderr
    assert list((sandbox.clone / ".release").glob("*.json")) == []


def test_temporary_directories_are_registered_and_removed_even_after_a_kill(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # What a killed run leaves in its temp directory (smoke venvs, API-diff trees, consumer
    # clones) is removed by the next run, and nothing is left once a run ends.
    registry = sandbox.clone / ".release" / "tmp-dirs"
    leftover = tmp_path / "release-tmp-left-by-a-kill"
    (leftover / "smoke-3.11-x").mkdir(parents=True)
    registry.parent.mkdir()
    registry.write_text(f"{leftover}\n", encoding="utf-8")
    done = sandbox.release("--yes", crash="smoke")
    assert done.returncode == -signal.SIGKILL
    assert not leftover.exists()
    (killed,) = registry.read_text(encoding="utf-8").split()  # the killed run's own
    assert Path(killed).is_dir()
    again = sandbox.release("--yes")
    assert again.returncode == 0, again.stderr
    assert not Path(killed).exists()
    assert not registry.exists()
    assert_released_exactly_once(sandbox)


@pytest.mark.parametrize(
    ("name", "value"),
    [("TWINE_REPOSITORY_URL", "upload.example.org/legacy/"), ("RELEASE_BUMP", "huge"),
     ("RUNTIME_SMOKE_PYTHONS", "2.7")],
)
def test_a_bad_variable_is_refused_in_preflight_before_anything_changes(
    sandbox: Sandbox, name: str, value: str
) -> None:
    done = sandbox.release("--yes", env={name: value})
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert name in errors[0] or value in errors[0]
    assert "==> build" not in done.stderr
    assert list((sandbox.clone / ".release").glob("*.json")) == []
    assert_nothing_released(sandbox)
