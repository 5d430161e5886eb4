"""`invoke release --on-merge` and `--dev` end to end: real git remotes with merged pull
requests, a real pypiserver, real consumer repositories and the local forge server (which
answers the documented pull-request, label and comment calls).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from fake_forge import FakeForge
from helpers import REPO_ROOT, SENTINEL, copy_fixture, git

from tooling.cascade.forge import ForgeClient, MergedPull
from tooling.e2e import CONSUMERS, make_consumer, write_consumers
from tooling.errors import ToolingError
from tooling.release.onmerge import (
    HELD_EXIT,
    HELD_MARKER,
    attribute_pulls,
    forge_from_env,
    held_reasons,
    pull_labels,
)
from tooling.versioning.decision import PullLabel, plan_version
from tooling.versioning.history import parse_commit

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpers import PackageIndex

slow = pytest.mark.slow

DIST = "release-fixture-runtime"
REPOSITORY = "Acme/Runtime"
_CI_VARIABLES = ("GITHUB_REF", "GITHUB_REF_NAME", "GITHUB_REF_TYPE", "GITHUB_TOKEN",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                 "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_STEP_SUMMARY", "GITEA_ACTIONS",
                 "GITHUB_ACTIONS", "RELEASE_BUMP", "RELEASE_FORGE")




pytestmark = pytest.mark.usefixtures("no_secret_in_output")


@dataclass
class MergeBox:
    """The project's remote, a working clone that merges pull requests, the forge and the index."""

    clone: Path
    remote: Path
    consumers: dict[str, Path]
    index: PackageIndex
    forge: FakeForge
    summary: Path
    env: dict[str, str] = field(repr=False)  # holds the SENTINEL: never in a failure report

    def merge(self, subject: str, files: dict[str, str], labels: list[str] | None = None) -> int:
        """Merge a one-commit pull request into main (a merge commit), push; its number."""
        number = len(self.forge.merged) + 1
        topic = f"topic-{number}"
        git(self.clone, "checkout", "-q", "-b", topic)
        for name, text in files.items():
            path = self.clone / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "-q", "-m", subject)
        sha = git(self.clone, "rev-parse", "HEAD")
        git(self.clone, "checkout", "-q", "main")
        git(self.clone, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number}", topic)
        merge = git(self.clone, "rev-parse", "HEAD")
        git(self.clone, "push", "-q", "origin", "main")
        return self.forge.add_merged_pull(REPOSITORY, commits=[sha], merge_commit=merge,
                                          labels=labels or [])

    def release(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "tooling.release", *args], cwd=cwd or self.clone,
            env=self.env, capture_output=True, text=True, timeout=300, check=False,
            stdin=subprocess.DEVNULL,
        )
        assert SENTINEL not in done.stdout + done.stderr
        return done

    def popen(self, cwd: Path, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tooling.release", *args], cwd=cwd, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )

    def tags(self) -> list[str]:
        return sorted(git(self.remote, "tag", "--list").split())

    def indexed(self) -> list[str]:
        return sorted(p.name for p in self.index.packages.iterdir())

    def bumps(self, consumer: str) -> int:
        log = git(self.consumers[consumer], "log", "--format=%s", "main")
        return sum(1 for s in log.splitlines() if s.startswith("chore(deps)"))

    def label(self, number: int, name: str) -> None:
        pull = next(p for p in self.forge.merged if p["number"] == number)
        labels = pull["labels"]
        assert isinstance(labels, list)
        labels.append({"id": len(labels) + 1, "name": name, "color": "ededed"})


def _make_box(tmp_path: Path, index: PackageIndex, kind: str, version: str) -> Iterator[MergeBox]:
    forge = FakeForge(kind, SENTINEL).start()
    forge.add_repo(REPOSITORY)
    summary = tmp_path / "summary.md"
    env = {**os.environ, **index.twine_env(), "PYTHONPATH": str(REPO_ROOT),
           "RUNTIME_SMOKE_PYTHONS": f"{sys.version_info.major}.{sys.version_info.minor}"}
    for name in _CI_VARIABLES:
        env.pop(name, None)
    env.update({"GITHUB_API_URL": forge.api_url, "GITHUB_REPOSITORY": REPOSITORY,
                "GITHUB_TOKEN": SENTINEL, "RELEASE_FORGE": kind, "CASCADE_TOKEN": SENTINEL,
                "GITHUB_STEP_SUMMARY": str(summary)})
    clone = copy_fixture("release-project", tmp_path / "project")
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        'version = "0.1.0"', f'version = "{version}"'), encoding="utf-8")
    consumers = {
        spec.name: make_consumer(tmp_path / "consumers", spec, version, DIST, env)
        for spec in CONSUMERS
    }
    write_consumers(clone / "consumers.toml", consumers)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "chore: init")
    git(clone, "tag", "-a", "-m", f"release {version}", f"fixture-v{version}")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(clone), str(remote))
    git(clone, "remote", "add", "origin", str(remote))
    git(clone, "fetch", "-q", "origin")
    git(clone, "branch", "-q", "--set-upstream-to=origin/main", "main")
    try:
        yield MergeBox(clone, remote, consumers, index, forge, summary, env)
    finally:
        forge.stop()


@pytest.fixture
def box(tmp_path: Path, fresh_index: PackageIndex) -> Iterator[MergeBox]:
    """A project at 1.0.0 on a GitHub-like forge."""
    yield from _make_box(tmp_path, fresh_index, "github", "1.0.0")


def _module(name: str, body: str = "return 1") -> dict[str, str]:
    return {f"workspace/{name}.py":
            f'"""{name}."""\n\n\ndef {name}() -> int:\n    """Do it."""\n    {body}\n'}


def _released(box: MergeBox, version: str) -> None:
    assert f"fixture-v{version}" in box.tags()
    assert box.indexed() == [f"release_fixture_runtime-{version}-py3-none-any.whl",
                             f"release_fixture_runtime-{version}.tar.gz"]


@slow
@pytest.mark.parametrize("kind", ["github", "gitea"])
def test_a_merged_feat_pull_request_releases_a_minor(
    tmp_path: Path, fresh_index: PackageIndex, kind: str
) -> None:
    for merged in _make_box(tmp_path, fresh_index, kind, "1.0.0"):
        number = merged.merge("feat: add extra", _module("extra"), labels=["enhancement"])
        plan = merged.release("--on-merge", "--dry-run", "--json")
        assert plan.returncode == 0, plan.stderr
        assert (json.loads(plan.stdout)["next"], json.loads(plan.stdout)["labels"]) == ("1.1.0", [])
        asked = [r.path for r in merged.forge.requests if "/commits/" in r.path]
        assert asked, "the release asked the forge for the merged pull requests"
        done = merged.release("--on-merge", "--yes")
        assert done.returncode == 0, done.stderr
        _released(merged, "1.1.0")
        assert number == 1


@slow
def test_a_fix_labelled_release_minor_releases_a_minor_and_shows_the_label(box: MergeBox) -> None:
    box.merge("fix: mend greeting", _module("mend"), labels=["release:minor"])
    plan = box.release("--on-merge", "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr
    report = json.loads(plan.stdout)
    assert (report["next"], report["override_source"]) == ("1.1.0", "label release:minor on #1")
    assert [(x["label"], x["pull"]) for x in report["labels"]] == [("release:minor", 1)]
    text = box.release("--on-merge", "--dry-run")
    assert "label: release:minor on #1 https://github.com/Acme/Runtime/pull/1" in text.stdout
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    _released(box, "1.1.0")


@slow
def test_a_breaking_merge_is_held_until_labelled_release_major(box: MergeBox) -> None:
    box.merge("feat!: greet differently", _module("loud"))
    held = box.release("--on-merge", "--yes")
    assert held.returncode == HELD_EXIT, held.stderr
    line = held.stderr.strip().splitlines()[-1]
    assert line.startswith("error: release held: 1.0.0 -> 2.0.0 is a major release (commit ")
    assert "feat!: greet differently" in line
    assert "label a merged pull request release:major" in line
    assert "bump = major" in line
    assert (box.tags(), box.indexed()) == (["fixture-v1.0.0"], [])
    assert not (box.clone / ".release" / "2.0.0.json").exists()
    assert git(box.remote, "log", "-1", "--format=%s", "main") == "Merge pull request #1"
    summary = box.summary.read_text(encoding="utf-8")
    assert "## Runtime release held: major release needs confirmation" in summary
    assert "feat!: greet differently" in summary
    assert len(box.forge.comments[1]) == 1
    assert box.forge.comments[1][0].startswith(HELD_MARKER)
    again = box.release("--on-merge", "--yes")
    assert again.returncode == HELD_EXIT
    assert len(box.forge.comments[1]) == 1, "a re-run does not repeat the comment"

    box.label(1, "release:major")
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    _released(box, "2.0.0")


@slow
def test_a_dispatch_with_bump_major_confirms_a_held_major(box: MergeBox) -> None:
    box.merge("feat!: greet differently", _module("loud"))
    box.env["RELEASE_BUMP"] = "major"  # what the dispatch input sets
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    _released(box, "2.0.0")


@slow
def test_before_one_the_minor_standing_in_for_major_is_held_too(
    tmp_path: Path, fresh_index: PackageIndex
) -> None:
    for zero in _make_box(tmp_path, fresh_index, "gitea", "0.1.0"):
        zero.forge.comment_scope = False  # a token that may not comment: a warning, no failure
        zero.merge("feat!: greet differently", _module("loud"))
        held = zero.release("--on-merge", "--yes")
        assert held.returncode == HELD_EXIT, held.stderr
        assert "release held: 0.1.0 -> 0.2.0 is a major release" in held.stderr
        assert "warning: could not comment on #1" in held.stderr
        assert (zero.tags(), zero.indexed()) == (["fixture-v0.1.0"], [])
        zero.label(1, "release:major")
        done = zero.release("--on-merge", "--yes")
        assert done.returncode == 0, done.stderr
        _released(zero, "0.2.0")


@slow
def test_confirm_major_false_lets_a_major_through(box: MergeBox) -> None:
    pyproject = box.clone / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        'release-branch = "main"', 'release-branch = "main"\nconfirm-major = false'),
        encoding="utf-8")
    git(box.clone, "commit", "-q", "-am", "chore: release majors on merge")
    box.merge("feat!: greet differently", _module("loud"))
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    _released(box, "2.0.0")


@slow
def test_release_skip_releases_nothing(box: MergeBox) -> None:
    box.merge("feat: add extra", _module("extra"), labels=["release:skip"])
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing to release")
    assert len(done.stdout.strip().splitlines()) == 1
    assert (box.tags(), box.indexed()) == (["fixture-v1.0.0"], [])
    assert not (box.clone / ".release" / "1.1.0.json").exists()


@slow
def test_a_merge_touching_only_files_outside_the_runtime_releases_nothing(box: MergeBox) -> None:
    box.merge("feat: describe the runtime", {"docs/runtime.md": "# The runtime\n"})
    done = box.release("--on-merge", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing to release")
    assert (box.tags(), box.indexed()) == (["fixture-v1.0.0"], [])


@slow
def test_on_merge_needs_the_forge_and_dev_flags_need_dev(box: MergeBox) -> None:
    del box.env["GITHUB_API_URL"]
    missing = box.release("--on-merge", "--yes")
    assert missing.returncode == 1
    assert "GITHUB_API_URL is not set" in missing.stderr
    lone = box.release("--tag", "--yes")
    assert lone.returncode == 1
    assert "--cascade and --tag go with --dev" in lone.stderr
    assert not (box.clone / ".release").exists()


@slow
def test_back_to_back_merges_release_in_order_never_twice_never_skipping(
    box: MergeBox, tmp_path: Path
) -> None:
    clones = []
    for name in ("ci-a", "ci-b"):
        where = tmp_path / name
        git(tmp_path, "clone", "-q", str(box.remote), str(where))
        clones.append(where)
    released: list[str] = []
    for subject, body in (("feat: add extra", "return 1"), ("fix: mend extra", "return 2")):
        box.merge(subject, _module("extra", body))
        runs = [box.popen(where, "--on-merge", "--yes") for where in clones]
        outputs = [run.communicate(timeout=300) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert SENTINEL not in out + err
            assert run.returncode == 0, err
        released += [line for out, _ in outputs for line in out.splitlines()
                     if line.startswith("released ")]
        # The other run lost the push (or found the release already there) and did nothing.
        assert sum(out.startswith("nothing to release: HEAD is fixture-v1.1") for out, _ in
                   outputs) == 1, [out for out, _ in outputs]
        git(box.clone, "pull", "-q", "--ff-only", "origin", "main")
    assert released == ["released 1.1.0 as fixture-v1.1.0", "released 1.1.1 as fixture-v1.1.1"]
    assert box.tags() == ["fixture-v1.0.0", "fixture-v1.1.0", "fixture-v1.1.1"]
    log = git(box.remote, "log", "--format=%s", "--first-parent", "main").splitlines()
    assert log[:4] == ["chore(release): 1.1.1", "Merge pull request #2",
                       "chore(release): 1.1.0", "Merge pull request #1"]
    changelog = (box.clone / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.count("add extra") == 1
    assert changelog.count("mend extra") == 1
    assert changelog.index("## 1.1.1") < changelog.index("mend extra") < changelog.index(
        "## 1.1.0") < changelog.index("add extra")


@slow
def test_dev_twice_publishes_dev0_then_dev1_and_touches_no_consumer(box: MergeBox) -> None:
    box.merge("feat: add extra", _module("extra"))
    head = git(box.remote, "rev-parse", "main")
    first = box.release("--dev", "--yes")
    assert first.returncode == 0, first.stderr
    assert "released 1.1.0.dev0 (dev release, untagged)" in first.stdout
    second = box.release("--dev", "--yes", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["version"] == "1.1.0.dev1"
    assert box.indexed() == sorted(
        f"release_fixture_runtime-1.1.0.dev{n}{ext}" for n in (0, 1)
        for ext in ("-py3-none-any.whl", ".tar.gz"))
    assert box.tags() == ["fixture-v1.0.0"]
    assert git(box.remote, "rev-parse", "main") == head
    assert git(box.clone, "status", "--porcelain") == ""
    assert not (box.clone / "CHANGELOG.md").exists()
    assert all(box.bumps(spec.name) == 0 for spec in CONSUMERS)
    tagged = box.release("--dev", "--tag", "--yes")
    assert tagged.returncode == 0, tagged.stderr
    assert "fixture-v1.1.0.dev2" in box.tags()
    assert git(box.remote, "rev-parse", "main") == head


# -- the deciding functions and the forge calls, without a release ---------------------------

FIX = parse_commit("a" * 40, "fix: mend")
BREAK = parse_commit("b" * 40, "feat!: drop the old greeting")
MERGE = "c" * 40


def _pull(number: int, labels: tuple[str, ...], base: str = "main") -> MergedPull:
    return MergedPull(number, f"https://forge.example/pull/{number}", labels, base, MERGE)


def test_a_merge_commits_pull_request_covers_the_commits_it_brought_and_other_bases_do_not_count(
) -> None:
    found = {MERGE: [_pull(3, ("release:minor", "bug", "release:skip"))],
             FIX.sha: [_pull(4, ("release:major",), base="maintenance")]}
    pulls = attribute_pulls(found, {MERGE: [FIX.sha, BREAK.sha]}, branch="main")
    assert list(pulls) == [3]
    assert pull_labels(pulls) == (
        PullLabel("release:minor", 3, "https://forge.example/pull/3", (FIX.sha, BREAK.sha)),
        PullLabel("release:skip", 3, "https://forge.example/pull/3", (FIX.sha, BREAK.sha)),
    )


def _label(name: str, *commits: str) -> PullLabel:
    return PullLabel(name, 1, "", commits)


def test_the_gate_holds_a_breaking_commit_and_a_label_or_a_major_bump_confirms_it() -> None:
    plan = plan_version("1.0.0", [BREAK])
    held = held_reasons(plan, bump=None, env={})
    assert held is not None
    assert (held.version, held.commits) == ("2.0.0", (f"{BREAK.short} {BREAK.subject}",))
    confirmed = plan_version("1.0.0", [BREAK], labels=[_label("release:major", BREAK.sha)])
    assert held_reasons(confirmed, bump=None, env={}) is None
    assert held_reasons(plan, bump="major", env={}) is None
    assert held_reasons(plan, bump=None, env={"RELEASE_BUMP": "release:major"}) is None
    assert held_reasons(plan_version("1.0.0", [FIX]), bump=None, env={}) is None


def test_before_one_the_gate_holds_the_minor_that_stands_in_for_major() -> None:
    plan = plan_version("0.4.2", [BREAK])
    assert plan.next == "0.5.0"
    assert held_reasons(plan, bump=None, env={}) is not None


def test_the_gate_holds_an_api_break_alone_and_names_it_but_not_a_skipped_break() -> None:
    api = ["pkg.greet (removed): gone"]
    feat = parse_commit("d" * 40, "feat: add a greeting")
    # Before 1.0.0 the API's major floor counts as minor, which a feat: already reaches.
    plan = plan_version("0.4.2", [feat], api_floor="major", api_breaking=api)
    held = held_reasons(plan, bump=None, env={})
    assert held is not None
    assert (held.version, held.commits, held.api) == ("0.5.0", (), tuple(api))
    assert "API change pkg.greet (removed): gone" in held.line(plan.current)
    assert "- pkg.greet (removed): gone" in held.markdown(plan.current)
    skipped = plan_version("1.0.0", [BREAK, FIX], labels=[_label("release:skip", BREAK.sha)])
    assert (skipped.next, held_reasons(skipped, bump=None, env={})) == ("1.0.1", None)


def test_the_forge_comes_from_the_actions_variables_or_a_one_line_error() -> None:
    env = {"GITHUB_API_URL": "https://gitea.example/api/v1", "GITHUB_REPOSITORY": "o/r",
           "GITEA_ACTIONS": "true"}
    assert forge_from_env(env).kind == "gitea"
    assert forge_from_env({**env, "RELEASE_FORGE": "github"}).kind == "github"
    with pytest.raises(ToolingError, match="GITHUB_REPOSITORY is not set"):
        forge_from_env({"GITHUB_API_URL": "https://api.github.com"})
    with pytest.raises(ToolingError, match="RELEASE_FORGE is 'gitlab'"):
        forge_from_env({**env, "RELEASE_FORGE": "gitlab"})


@pytest.mark.parametrize("kind", ["github", "gitea"])
def test_the_client_finds_merged_pull_requests_as_each_forge_documents(kind: str) -> None:
    forge = FakeForge(kind, SENTINEL).start()
    try:
        forge.add_repo(REPOSITORY)
        number = forge.add_merged_pull(REPOSITORY, commits=[FIX.sha], merge_commit=MERGE,
                                       labels=["release:minor"])
        with ForgeClient(kind, forge.api_url, SENTINEL) as client:
            by_merge = client.merged_pulls_for_commit(REPOSITORY, MERGE)
            by_commit = client.merged_pulls_for_commit(REPOSITORY, FIX.sha)
            client.comment(REPOSITORY, number, "held")
            assert client.issue_comments(REPOSITORY, number) == ("held",)
        assert [(p.number, p.labels, p.base) for p in by_merge] == [(1, ("release:minor",), "main")]
        # GitHub lists a pull request for each of its commits; Gitea only for its merge commit.
        assert len(by_commit) == (1 if kind == "github" else 0)
    finally:
        forge.stop()
