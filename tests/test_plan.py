"""The version plan with pull-request labels: they raise the bump, never lower it; skip drops."""

from __future__ import annotations

import pytest

from tooling.versioning.decision import PullLabel, plan_version
from tooling.versioning.history import parse_commit
from tooling.versioning.render import describe_plan, plan_to_json

FEAT = parse_commit("a" * 40, "feat: add a thing")
FIX = parse_commit("b" * 40, "fix: mend a thing")
BREAK = parse_commit("c" * 40, "feat!: drop a thing")
DOCS = parse_commit("d" * 40, "docs: explain a thing")


def label(name: str, pull: int, *commits: str) -> PullLabel:
    return PullLabel(name, pull, f"https://forge.example/o/r/pull/{pull}", commits)


def test_a_label_raises_the_bump_and_is_shown_with_its_pull_request() -> None:
    plan = plan_version("1.2.3", [FIX], labels=[label("release:minor", 7, FIX.sha)])
    assert (plan.next, plan.override, plan.override_source) == (
        "1.3.0", "minor", "label release:minor on #7")
    assert plan_to_json(plan)["labels"] == [{
        "label": "release:minor", "pull": 7, "url": "https://forge.example/o/r/pull/7",
        "commits": [FIX.sha]}]
    assert "label: release:minor on #7 https://forge.example/o/r/pull/7" in describe_plan(plan)


def test_a_label_below_the_commits_never_lowers_the_bump_and_is_no_error() -> None:
    plan = plan_version("1.2.3", [FEAT], labels=[label("release:patch", 7, FEAT.sha)])
    assert (plan.next, plan.override) == ("1.3.0", None)


def test_a_label_on_a_pull_request_with_no_counted_commit_releases_nothing() -> None:
    plan = plan_version("1.2.3", [DOCS], labels=[label("release:minor", 7, "e" * 40)])
    assert plan.next is None


def test_a_label_releases_commits_that_ask_for_nothing_on_their_own() -> None:
    plan = plan_version("1.2.3", [DOCS], labels=[label("release:patch", 7, DOCS.sha)])
    assert plan.next == "1.2.4"


def test_release_skip_drops_its_pull_requests_commits_only() -> None:
    skipped = plan_version("1.2.3", [FEAT], labels=[label("release:skip", 7, FEAT.sha)])
    assert skipped.next is None
    assert "skipped: release:skip" in describe_plan(skipped)
    rest = plan_version("1.2.3", [FEAT, FIX], labels=[label("release:skip", 7, FEAT.sha)])
    assert rest.next == "1.2.4"


def test_a_skipped_pull_requests_label_raises_nothing() -> None:
    plan = plan_version("1.2.3", [FIX], labels=[
        label("release:skip", 7, FIX.sha), label("release:major", 7, FIX.sha)])
    assert plan.next is None


@pytest.mark.parametrize(("major_on_zero", "expected"), [(False, "0.4.0"), (True, "1.0.0")])
def test_a_major_label_before_one_follows_the_zero_rule(major_on_zero: bool, expected: str) -> None:
    plan = plan_version("0.3.1", [FIX], major_on_zero=major_on_zero,
                        labels=[label("release:major", 7, FIX.sha)])
    assert plan.next == expected


def test_a_major_label_confirms_a_breaking_commit_without_changing_its_bump() -> None:
    plan = plan_version("1.2.3", [BREAK], labels=[label("release:major", 7, BREAK.sha)])
    assert (plan.next, plan.bump, plan.override) == ("2.0.0", "major", None)
