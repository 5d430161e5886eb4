"""`nox -s lint`: workflow parity, staleness, Gitea limits, actionlint, zizmor, ruff, mypy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tooling.ci import lint, workflows

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
UNSUPPORTED = FIXTURES / "workflows-gitea-unsupported"
WORKFLOW_CHECKS = ("parity", "generated", "gitea", "actionlint", "zizmor")

# (fixture file, rule, line of the construct, first Gitea release honouring it or None)
CONSTRUCTS = [
    ("merge-group.yml", "merge_group", 4, None),
    ("dispatch-list.yml", "trigger", 2, None),
    ("id-token.yml", "id-token", 8, None),
    ("write-all.yml", "id-token", 3, None),
    ("environment.yml", "environment", 6, None),
    ("runs-on-group.yml", "runs-on", 5, None),
    ("concurrency.yml", "concurrency", 3, (1, 26)),
    ("id-token.yml", "permissions", 6, (1, 26)),
    ("timeout.yml", "timeout-minutes", 6, (1, 27)),
    ("continue-on-error.yml", "continue-on-error", 6, (1, 27)),
    ("hashfiles.yml", "hashFiles", 9, (1, 25)),
    ("run-name.yml", "run-name", 2, (1, 25)),
    ("workflow-dispatch.yml", "workflow_dispatch", 3, (1, 25)),
]


def _tree(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def _only(*checks: str) -> list[str]:
    return [arg for check in checks for arg in ("--only", check)]


def _hits(result: lint.CheckResult, file: str, rule: str) -> list[int | None]:
    return [
        p.line for p in result.problems
        if p.path == f".gitea/workflows/{file}" and f"[gitea-{rule};" in p.message
    ]


def test_a_clean_tree_passes_every_workflow_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, "workflows-clean")
    checks = ("parity", "gitea", "actionlint", "zizmor")
    assert lint.main(["--root", str(root), *_only(*checks)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", check] for check in checks]


def test_a_workflow_without_its_twin_fails_parity_naming_the_forge_that_never_runs_it(
    tmp_path: Path
) -> None:
    result = lint.check_parity(_tree(tmp_path, "workflows-missing-twin"))
    assert not result.ok
    by_path = {p.path: p.message for p in result.problems}
    # ci.yml and ci.yaml are twins: the forges match workflows by name, not extension.
    assert set(by_path) == {".github/workflows/release.yml", ".gitea/workflows/nightly.yml"}
    assert "so Gitea never runs it" in by_path[".github/workflows/release.yml"]
    assert "so GitHub never runs it" in by_path[".gitea/workflows/nightly.yml"]


@pytest.mark.parametrize(("file", "rule", "line", "since"), CONSTRUCTS)
def test_each_unsupported_gitea_construct_is_reported_at_its_line(
    file: str, rule: str, line: int, since: tuple[int, int] | None
) -> None:
    before = (since[0], since[1] - 1) if since else (99, 0)
    result = lint.check_gitea(UNSUPPORTED, gitea_version=before)
    assert not result.ok
    assert _hits(result, file, rule) == [line]
    if since:
        # From the release that honours it on, the same construct is fine.
        assert _hits(lint.check_gitea(UNSUPPORTED, gitea_version=since), file, rule) == []


def test_every_gitea_rule_has_a_fixture_a_reason_and_a_source() -> None:
    assert {rule for _, rule, _, _ in CONSTRUCTS} == {r.ident for r in lint.GITEA_RULES}
    for rule in lint.GITEA_RULES:
        assert rule.reason
        assert rule.source


def test_github_workflows_are_not_held_to_gitea_limits() -> None:
    result = lint.check_gitea(UNSUPPORTED, gitea_version=(1, 0))
    assert result.problems
    assert all(p.path.startswith(".gitea/workflows/") for p in result.problems)


def test_the_generated_workflows_fit_gitea_1_26_but_older_gitea_would_run_releases_at_once(
) -> None:
    assert lint.check_gitea(REPO).ok
    older = lint.check_gitea(REPO, gitea_version=(1, 25))
    assert _hits(older, "release.yml", "concurrency")


def test_an_edited_missing_or_orphaned_generated_file_fails_the_generated_check(
    tmp_path: Path
) -> None:
    expected = workflows.expected_files(workflows.settings_from_project(REPO))
    for generated in expected:
        target = tmp_path / generated.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generated.text)
    assert lint.check_generated(tmp_path, expected).ok

    ci = tmp_path / ".github/workflows/ci.yml"
    ci.write_text(ci.read_text().replace("nox -s lint tests", "nox -s tests"))
    (tmp_path / ".gitea/workflows/drift.yml").unlink()
    (tmp_path / ".gitea/workflows/old.yml").write_text(f"{workflows.GENERATED_MARKER}\n")
    result = lint.check_generated(tmp_path, expected)
    assert not result.ok
    assert {(p.path, p.message.split(";")[0]) for p in result.problems} == {
        (".github/workflows/ci.yml", "differs"),
        (".gitea/workflows/drift.yml", "missing"),
        (".gitea/workflows/old.yml", "orphaned"),
    }


def test_actionlint_reports_syntax_expression_and_injection_findings(tmp_path: Path) -> None:
    result = lint.check_actionlint(_tree(tmp_path, "workflows-insecure"))
    assert not result.ok
    found = {(p.path, p.line) for p in result.problems}
    for forge in (".github", ".gitea"):
        assert (f"{forge}/workflows/broken.yml", 8) in found  # a malformed expression
        assert (f"{forge}/workflows/greet.yml", 10) in found  # untrusted input in a script


def test_zizmor_reports_unpinned_actions_persisted_credentials_and_template_injection(
    tmp_path: Path
) -> None:
    result = lint.check_zizmor(_tree(tmp_path, "workflows-insecure"))
    assert not result.ok
    found = {(p.path, p.line, p.message.split(":")[0]) for p in result.problems}
    for forge in (".github", ".gitea"):
        path = f"{forge}/workflows/greet.yml"
        assert (path, 8, "unpinned-uses") in found
        assert (path, 8, "artipacked") in found
        assert (path, 10, "template-injection") in found
        assert (path, 3, "dangerous-triggers") in found


def test_ruff_findings_fail_the_lint_with_their_location(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F"]\n')
    (tmp_path / "tooling").mkdir()
    (tmp_path / "tooling" / "bad.py").write_text('"""Doc."""\n\nimport os\n')
    result = lint.check_ruff(tmp_path)
    assert not result.ok
    assert [(p.path, p.line) for p in result.problems] == [("tooling/bad.py", 3)]
    assert "F401" in result.problems[0].message


def test_type_errors_fail_the_lint_with_their_location(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text('count: int = "three"\n')
    result = lint.check_mypy(tmp_path)
    assert not result.ok
    assert [(p.path, p.line) for p in result.problems] == [("tasks.py", 1)]


def test_one_result_line_per_check_and_a_failing_exit_when_any_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, "workflows-missing-twin")
    assert lint.main(["--root", str(root), *_only("parity", "gitea")]) == 1
    captured = capsys.readouterr()
    results = [line for line in captured.out.splitlines() if not line.startswith(" ")]
    assert [line.split()[:2] for line in results] == [["FAIL", "parity"], ["ok", "gitea"]]
    assert "1 lint check(s) failed" in captured.err


def test_findings_become_annotations_under_actions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert lint.main(["--root", str(UNSUPPORTED), *_only("gitea")]) == 1
    out = capsys.readouterr().out
    assert "::error file=.gitea/workflows/merge-group.yml,line=4,title=lint%3A gitea::" in out


def test_the_repository_passes_its_own_workflow_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint.main(["--root", str(REPO), *_only(*WORKFLOW_CHECKS)]) == 0, capsys.readouterr()


def test_the_docs_list_every_gitea_rule_and_every_check() -> None:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for rule in lint.GITEA_RULES:
        assert f"`gitea-{rule.ident}`" in text
    for check in lint.CHECKS:
        assert f"`{check}`" in text
