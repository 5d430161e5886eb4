"""Commits since the last release tag, and the version plan made from them.

Every history here is a real git repository built in tmp_path with real commits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.errors import ToolingError
from tooling.versioning.decision import BelowApiFloorError, OverrideTooLowError, plan_version
from tooling.versioning.history import commits_since, last_release_tag, parse_commit
from tooling.versioning.plan import plan_from_repo
from tooling.versioning.render import describe_plan, plan_to_json

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import TypedDict, Unpack

    from tooling.version import Bump
    from tooling.versioning.decision import VersionPlan

    class _PlanOptions(TypedDict, total=False):
        """The keyword arguments of ``plan_version`` these tests pass through ``plan_after``."""

        override: str | None
        env_override: str | None
        prerelease: str | None
        major_on_zero: bool
        api_floor: Bump | None
        api_breaking: Sequence[str]

PREFIX = "runtime-v"


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A repository whose HEAD is tagged runtime-v1.2.3."""
    repo = helpers.init_repo(tmp_path / "repo", message="feat: the first release")
    helpers.git(repo, "tag", "-a", f"{PREFIX}1.2.3", "-m", "1.2.3")
    return repo


def plan_after(
    repo: Path, *messages: str, current: str = "1.2.3", **options: Unpack[_PlanOptions]
) -> VersionPlan:
    """Commit ``messages`` on top of ``repo`` and plan from the commits since the last tag."""
    for message in messages:
        helpers.commit(repo, message)
    tag = last_release_tag(repo, PREFIX)
    return plan_version(current, commits_since(repo, tag), tag_prefix=PREFIX, since=tag, **options)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("fix: handle an empty reply", "1.2.4"),
        ("perf: cache the peer list", "1.2.4"),
        ("feat: add the memory tool", "1.3.0"),
        ("feat(api)!: drop the legacy adapter", "2.0.0"),
        ("fix!: reject unsigned tokens", "2.0.0"),
        ("refactor: split the loop\n\nBREAKING CHANGE: run() is gone", "2.0.0"),
        ("chore: tidy\n\nBREAKING-CHANGE: config key renamed", "2.0.0"),
    ],
)
def test_each_commit_type_asks_for_its_bump(released: Path, message: str, expected: str) -> None:
    plan = plan_after(released, message)
    assert plan.next == expected
    assert plan.tag == f"{PREFIX}{expected}"


@pytest.mark.parametrize("kind", ["docs", "chore", "ci", "test", "refactor", "style", "build"])
def test_other_types_release_nothing_on_their_own(released: Path, kind: str) -> None:
    plan = plan_after(released, f"{kind}: something")
    assert not plan.release
    assert plan.next is None
    assert plan.tag is None
    assert plan.reason.startswith(f"nothing to release: no commit since {PREFIX}1.2.3")


def test_no_commits_since_the_tag_is_nothing_to_release(released: Path) -> None:
    plan = plan_after(released)
    assert not plan.release
    assert "0 considered" in plan.reason
    assert "nothing to release" in describe_plan(plan)


def test_the_highest_bump_wins_whatever_the_order(released: Path) -> None:
    plan = plan_after(released, "fix: a", "feat: b", "docs: c", "perf: d")
    assert (plan.commit_bump, plan.next) == ("minor", "1.3.0")
    plan = plan_after(released, "feat!: e", "fix: f")
    assert (plan.commit_bump, plan.next) == ("major", "2.0.0")


def test_breaking_footers_are_read_with_their_text(released: Path) -> None:
    helpers.commit(
        released,
        "feat(config): new loader\n\nLonger body.\n\n"
        "BREAKING CHANGE: `workspace.yaml` is read\n  from the root now\nRefs: #12",
    )
    helpers.commit(released, "fix: x\n\nBREAKING-CHANGE: the port moved")
    commits = commits_since(released, f"{PREFIX}1.2.3")
    assert [c.breaking_notes for c in commits] == [
        ("`workspace.yaml` is read\n  from the root now",),
        ("the port moved",),
    ]
    assert [c.bump for c in commits] == ["major", "major"]
    assert commits[0].scope == "config"


def test_a_lower_case_breaking_change_line_is_not_a_footer() -> None:
    commit = parse_commit("a" * 40, "fix: x\n\nbreaking change: not per the spec")
    assert (commit.breaking, commit.bump) == (False, "patch")


def test_skip_release_commits_are_ignored(released: Path) -> None:
    plan = plan_after(released, "feat!: rewrite [skip-release]", "fix: small")
    assert plan.next == "1.2.4"
    skipped = plan.commits[0]
    assert skipped.skip
    assert skipped.bump is None
    assert "skipped: [skip-release]" in describe_plan(plan)
    plan = plan_after(released, "feat: later\n\nbody [SKIP-RELEASE]")
    assert plan.next == "1.2.4"


def test_merge_commits_are_read_through_to_the_commits_they_bring(released: Path) -> None:
    helpers.git(released, "checkout", "-q", "-b", "topic")
    helpers.commit(released, "feat(tools): add search", {"search.py": "1"})
    helpers.commit(released, "fix(tools): search paging", {"search.py": "2"})
    helpers.git(released, "checkout", "-q", "main")
    helpers.commit(released, "docs: readme", {"README.md": "more"})
    helpers.git(released, "merge", "-q", "--no-ff", "topic", "-m", "Merge branch 'topic'")
    commits = commits_since(released, f"{PREFIX}1.2.3")
    subjects = {c.subject for c in commits}
    assert subjects == {"feat(tools): add search", "fix(tools): search paging", "docs: readme"}
    plan = plan_version("1.2.3", commits, since=f"{PREFIX}1.2.3")
    assert plan.next == "1.3.0"


def test_the_last_tag_is_the_highest_valid_version_reachable_from_head(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    helpers.git(repo, "tag", f"{PREFIX}0.9.0")
    helpers.commit(repo, "feat: a")
    helpers.git(repo, "tag", f"{PREFIX}0.10.0")
    helpers.git(repo, "tag", f"{PREFIX}0.2.0")
    helpers.git(repo, "tag", f"{PREFIX}next")
    helpers.git(repo, "tag", f"{PREFIX}1.0")
    helpers.git(repo, "tag", "other-v9.0.0")
    helpers.git(repo, "checkout", "-q", "-b", "elsewhere")
    helpers.commit(repo, "feat: unmerged")
    helpers.git(repo, "tag", f"{PREFIX}5.0.0")
    helpers.git(repo, "checkout", "-q", "main")
    assert last_release_tag(repo, PREFIX) == f"{PREFIX}0.10.0"
    assert last_release_tag(repo, "nothing-") is None


def test_finals_only_passes_over_prerelease_tags(released: Path) -> None:
    helpers.commit(released, "feat: a")
    helpers.git(released, "tag", f"{PREFIX}1.3.0rc1")
    assert last_release_tag(released, PREFIX) == f"{PREFIX}1.3.0rc1"
    assert last_release_tag(released, PREFIX, finals_only=True) == f"{PREFIX}1.2.3"


def test_without_a_tag_every_commit_counts(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo", message="chore: init")
    helpers.commit(repo, "fix: a")
    commits = commits_since(repo, None)
    assert [c.subject for c in commits] == ["chore: init", "fix: a"]


def test_a_missing_tag_or_repository_is_a_clear_error(tmp_path: Path, released: Path) -> None:
    with pytest.raises(ToolingError, match=r"tag 'runtime-v9\.9\.9' not found; fetch tags"):
        commits_since(released, f"{PREFIX}9.9.9")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ToolingError, match="not a git repository with commits"):
        last_release_tag(tmp_path / "plain", PREFIX)


def test_prerelease_then_its_promotion(released: Path) -> None:
    plan = plan_after(released, "feat: new api", prerelease="rc")
    assert (plan.next, plan.bump) == ("1.3.0rc1", "minor")
    assert plan.tag is not None
    helpers.git(released, "tag", plan.tag)
    plan = plan_after(released, "fix: rc feedback", current="1.3.0rc1", prerelease="rc")
    assert (plan.next, plan.bump) == ("1.3.0rc2", "minor")
    assert plan.tag is not None
    helpers.git(released, "tag", plan.tag)
    # No new commit: promoting the pre-release is still a release.
    plan = plan_after(released, current="1.3.0rc2")
    assert (plan.next, plan.tag, plan.bump) == ("1.3.0", f"{PREFIX}1.3.0", "minor")
    assert plan.reason == "promote 1.3.0rc2 to 1.3.0"


def test_a_prerelease_cannot_go_back_to_an_earlier_kind(released: Path) -> None:
    helpers.git(released, "tag", f"{PREFIX}1.3.0rc1")
    # Without commits, asking for an earlier kind is not a promotion.
    assert not plan_after(released, current="1.3.0rc1", prerelease="a").release
    with pytest.raises(ToolingError, match="already at rc"):
        plan_after(released, "fix: x", current="1.3.0rc1", prerelease="a")


def test_a_breaking_change_during_prereleases_moves_to_the_next_major(released: Path) -> None:
    helpers.git(released, "tag", f"{PREFIX}1.3.0rc1")
    plan = plan_after(released, "feat!: rename", current="1.3.0rc1", prerelease="rc")
    assert plan.next == "2.0.0rc1"


def test_an_override_raises_the_bump(released: Path) -> None:
    plan = plan_after(released, "fix: a", override="major")
    assert (plan.next, plan.override, plan.override_source) == ("2.0.0", "major", "--bump")


def test_an_override_forces_a_release_without_releasable_commits(released: Path) -> None:
    plan = plan_after(released, "docs: a", env_override="release:patch")
    assert (plan.next, plan.override_source) == ("1.2.4", "RELEASE_BUMP")


def test_an_override_lower_than_the_commits_is_refused(released: Path) -> None:
    with pytest.raises(OverrideTooLowError) as caught:
        plan_after(released, "fix: a", "feat(api): b", override="patch")
    message = str(caught.value)
    assert message.startswith("--bump patch is lower than the minor bump the commits ask for")
    assert "feat(api): b" in message
    assert "never lower" in message
    assert "\n" not in message


def test_release_bump_from_a_pr_label_lower_than_the_commits_is_refused(released: Path) -> None:
    with pytest.raises(OverrideTooLowError, match=r"^RELEASE_BUMP minor is lower than the major"):
        plan_after(released, "feat!: b", env_override="release:minor")


def test_a_malformed_release_bump_is_refused(released: Path) -> None:
    with pytest.raises(ToolingError, match="RELEASE_BUMP: 'release:huge' is not a bump"):
        plan_after(released, "fix: a", env_override="release:huge")


def test_before_one_zero_a_breaking_change_bumps_minor(released: Path) -> None:
    plan = plan_after(released, "feat!: drop x", current="0.3.0")
    assert (plan.commit_bump, plan.next) == ("minor", "0.4.0")
    assert "counts as minor before 1.0.0" in describe_plan(plan)


def test_major_on_zero_makes_a_breaking_change_major_before_one_zero(released: Path) -> None:
    plan = plan_after(released, "feat!: drop x", current="0.3.0", major_on_zero=True)
    assert plan.next == "1.0.0"


def test_an_explicit_major_override_leaves_zero_x(released: Path) -> None:
    plan = plan_after(released, "feat!: drop x", current="0.3.0", override="major")
    assert plan.next == "1.0.0"


def test_a_release_below_the_api_floor_is_refused_naming_the_breaks(released: Path) -> None:
    breaks = ["removed molecule_runtime.a2a_client.discover_peer",
              "changed molecule_runtime.coordinator.run(timeout)"]  # fmt: skip
    with pytest.raises(BelowApiFloorError) as caught:
        plan_after(released, "fix: tidy", api_floor="major", api_breaking=breaks)
    message = str(caught.value)
    assert "the public API needs a major release but this one would be patch" in message
    assert all(b in message for b in breaks)
    assert "--bump major" in message
    assert "[tool.runtime-build.api-ignore]" in message
    assert "\n" not in message
    plan = plan_after(released, override="major", api_floor="major", api_breaking=breaks)
    assert plan.next == "2.0.0"
    assert breaks[0] in describe_plan(plan)


def test_the_api_floor_follows_the_zero_x_rule(released: Path) -> None:
    plan = plan_after(released, "feat: x", current="0.3.0", api_floor="major")
    assert plan.next == "0.4.0"
    assert plan.tag is not None
    helpers.git(released, "tag", plan.tag)
    helpers.commit(released, "fix: y")
    with pytest.raises(BelowApiFloorError, match="needs a minor release"):
        plan_version("0.4.0", commits_since(released, plan.tag), api_floor="major")


def test_additions_raise_a_patch_to_minor_but_a_break_is_refused(released: Path) -> None:
    added = ["molecule_runtime.coordinator.Route (added-class): class added"]
    plan = plan_after(released, "fix: tidy", api_floor="minor", api_breaking=added)
    assert (plan.commit_bump, plan.bump, plan.next) == ("patch", "minor", "1.3.0")
    assert "the public API's additions ask for minor" in plan.reason
    with pytest.raises(BelowApiFloorError, match="needs a major release"):
        plan_after(released, "fix: tidy", api_floor="major", api_breaking=added)


def test_the_plan_as_json_and_text(released: Path) -> None:
    plan = plan_after(released, "feat(tools): a", "docs: b", api_floor="minor")
    data = plan_to_json(plan)
    assert {"current", "next", "bump", "api_floor", "tag", "commits"} <= set(data)
    assert (data["current"], data["next"], data["bump"]) == ("1.2.3", "1.3.0", "minor")
    assert (data["api_floor"], data["tag"]) == ("minor", f"{PREFIX}1.3.0")
    commits = data["commits"]
    assert isinstance(commits, list)
    assert [c["bump"] for c in commits] == ["minor", None]
    assert commits[0]["scope"] == "tools"
    json.dumps(data)
    text = describe_plan(plan)
    expected = (
        "current version: 1.2.3",
        "API floor: minor",
        "next version: 1.3.0",
        f"tag: {PREFIX}1.3.0",
        "files that would change: pyproject.toml, CHANGELOG.md",
    )
    for line in expected:
        assert line in text
    assert f"{plan.commits[0].short}  minor  feat(tools): a" in text


def test_plan_from_a_project_repository_reads_release_bump(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "proj", files={
        "pyproject.toml": '[project]\nname = "demo"\nversion = "0.3.0"\n\n'
                          '[tool.runtime-build]\nsource = "workspace"\n',
        "workspace/a.py": "",
    })  # fmt: skip
    helpers.git(repo, "tag", f"{PREFIX}0.3.0")
    helpers.commit(repo, "fix: a", {"workspace/a.py": "A = 1\n"})
    plan = plan_from_repo(repo, env={"RELEASE_BUMP": "release:minor"})
    assert (plan.since, plan.next, plan.override_source) == (f"{PREFIX}0.3.0", "0.4.0",
                                                              "RELEASE_BUMP")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "tooling.versioning.plan", "--root", str(repo), "--json"],
        capture_output=True, text=True, check=False, cwd=helpers.REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["next"] == "0.3.1"
