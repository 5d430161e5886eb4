"""The CI workflows: generated for both forges from one definition, and kept in step."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tooling.ci import lint, workflows
from tooling.errors import ToolingError
from tooling.release import commands as release

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tooling.ci.yaml_model import Node

REPO = Path(__file__).resolve().parents[1]
STEMS = ("ci", "release", "drift")
_PINNED_USES = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(?:\.\d+)*$")


@pytest.fixture(scope="module")
def settings() -> workflows.Settings:
    return workflows.settings_from_project(REPO)


@pytest.fixture(scope="module")
def files(settings: workflows.Settings) -> tuple[workflows.GeneratedFile, ...]:
    return workflows.expected_files(settings)


# Parsed YAML has no static shape: the assertions below are what check it.
def _load(
    files: tuple[workflows.GeneratedFile, ...], forge: workflows.Forge, stem: str
) -> dict[str, Any]:
    path = workflows.WORKFLOW_DIRS[forge] / f"{stem}.yml"
    text = next(f.text for f in files if f.path == path)
    data = workflows.load_workflow(text)
    assert isinstance(data, dict)
    return data


def _jobs(files: tuple[workflows.GeneratedFile, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for forge in workflows.FORGES:
        for stem in STEMS:
            for name, job in _load(files, forge, stem)["jobs"].items():
                yield f"{forge}/{stem}/{name}", job


def _step(flow: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in flow["jobs"]["release"]["steps"] if s["name"] == name]
    assert len(found) == 1, name
    step: dict[str, Any] = found[0]
    return step


def _secret(name: str) -> str:
    return "${{ secrets.%s }}" % name  # noqa: UP031 - braces would need doubling in an f-string


def _project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "workspace").mkdir()
    return root


def test_generation_is_deterministic_and_matches_the_committed_files(
    settings: workflows.Settings, files: tuple[workflows.GeneratedFile, ...]
) -> None:
    assert workflows.expected_files(settings) == files
    assert workflows.find_stale(REPO, files) == ()


def test_both_forges_get_the_same_three_workflows(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    assert sorted(str(f.path) for f in files) == sorted(
        f"{folder}/{stem}.yml" for folder in (".github/workflows", ".gitea/workflows")
        for stem in STEMS
    )


def test_every_generated_file_says_it_is_generated_and_how_to_regenerate(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for generated in files:
        head = generated.text.splitlines()[:3]
        assert head[0] == workflows.GENERATED_MARKER
        assert any("`invoke workflows`" in line for line in head)


def test_every_job_sets_up_the_project_the_readme_way(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for where, job in _jobs(files):
        checkout, setup, install = job["steps"][:3]
        sha = workflows.CHECKOUT.sha
        assert checkout["uses"] == f"actions/checkout@{sha}", where
        assert checkout["with"]["persist-credentials"] is False, where
        assert setup["uses"] == f"actions/setup-python@{workflows.SETUP_PYTHON.sha}", where
        assert install["run"] == (
            "python -m pip install -U pip && python -m pip install --group dev"
        ), where


def test_every_action_is_pinned_by_full_sha_with_its_version_in_a_comment(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for generated in files:
        uses = [line for line in generated.text.splitlines() if "uses:" in line]
        assert uses, generated.path
        for line in uses:
            assert _PINNED_USES.match(line), f"{generated.path}: {line}"


def test_no_expression_is_expanded_inside_a_run_script(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for where, job in _jobs(files):
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), where


def test_every_job_asks_for_no_more_than_it_needs(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for forge in workflows.FORGES:
        for stem in STEMS:
            assert _load(files, forge, stem)["permissions"] == {}
    for where, job in _jobs(files):
        if where.endswith("/release/release"):
            continue
        assert job["permissions"] == {"contents": "read"}, where


def test_ci_lints_tests_and_builds_on_every_supported_python(
    files: tuple[workflows.GeneratedFile, ...], settings: workflows.Settings
) -> None:
    for forge in workflows.FORGES:
        ci = _load(files, forge, "ci")
        assert set(ci["on"]) == {"push", "pull_request"}
        jobs = ci["jobs"]
        assert jobs["lint-tests"]["steps"][-1]["run"] == "nox -s lint tests"
        matrix = jobs["build-smoke"]["strategy"]["matrix"]["python"]
        assert matrix == list(settings.pythons) == ["3.11", "3.12", "3.13"]
        assert jobs["build-smoke"]["steps"][1]["with"]["python-version"] == "${{ matrix.python }}"
        assert jobs["build-smoke"]["steps"][-1]["run"] == "nox -s build smoke"


def test_api_diff_runs_on_pull_requests_with_the_full_history(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for forge in workflows.FORGES:
        job = _load(files, forge, "ci")["jobs"]["api-diff"]
        assert job["if"] == "github.event_name == 'pull_request'"
        assert job["steps"][0]["with"]["fetch-depth"] == 0
        assert job["steps"][-1]["run"] == "nox -s api-diff -- --format github"


def test_release_runs_on_tag_or_dispatch_one_at_a_time_never_cancelled(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for forge in workflows.FORGES:
        flow = _load(files, forge, "release")
        assert flow["on"]["push"] == {"tags": ["runtime-v*"]}
        bump = flow["on"]["workflow_dispatch"]["inputs"]["bump"]
        assert bump["options"] == ["", "patch", "minor", "major"]
        assert bump["default"] == ""
        assert flow["concurrency"] == {"group": "release", "cancel-in-progress": False}
        step = _step(flow, "Release")
        assert step["run"] == "invoke release --yes"
        # The dispatch input reaches the release as RELEASE_BUMP, never inside the script.
        assert step["env"]["RELEASE_BUMP"] == "${{ inputs.bump }}"
        assert step["env"]["CASCADE_TOKEN"] == _secret("CASCADE_TOKEN")
        assert step["env"]["RUNTIME_INDEX_URL"] == _secret("RUNTIME_INDEX_URL")
        assert flow["jobs"]["release"]["steps"][0]["with"]["fetch-depth"] == 0


def test_release_publishes_by_oidc_on_github_and_by_token_on_gitea(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    github = _load(files, "github", "release")["jobs"]["release"]
    assert github["permissions"] == {"contents": "write", "id-token": "write"}
    assert github["environment"] == "release"
    env = _step({"jobs": {"release": github}}, "Release")["env"]
    # twine mints a trusted-publishing token only for __token__ with no password set.
    assert env["TWINE_USERNAME"] == "__token__"
    assert "TWINE_PASSWORD" not in env

    gitea = _load(files, "gitea", "release")["jobs"]["release"]
    assert gitea["permissions"] == {"contents": "write"}
    assert "environment" not in gitea
    assert _step({"jobs": {"release": gitea}}, "Release")["env"]["TWINE_PASSWORD"] == _secret(
        "TWINE_PASSWORD")


def test_drift_runs_daily_and_on_demand(files: tuple[workflows.GeneratedFile, ...]) -> None:
    for forge in workflows.FORGES:
        flow = _load(files, forge, "drift")
        assert len(flow["on"]["schedule"][0]["cron"].split()) == 5
        assert "workflow_dispatch" in flow["on"]
        step = flow["jobs"]["drift"]["steps"][-1]
        assert flow["on"]["workflow_dispatch"]["inputs"]["fix"]["default"] is False
        assert step["env"]["DRIFT_FIX"] == "${{ inputs.fix }}"
        assert step["run"] == (
            'if [ "$DRIFT_FIX" = true ]; then invoke drift --fix; else invoke drift; fi'
        )


def test_tag_prefix_and_python_matrix_follow_the_project_configuration() -> None:
    custom = workflows.Settings(tag_prefix="rt-", pythons=("3.12", "3.14"))
    generated = workflows.expected_files(custom)
    assert _load(generated, "gitea", "release")["on"]["push"]["tags"] == ["rt-*"]
    ci = _load(generated, "github", "ci")["jobs"]
    assert ci["build-smoke"]["strategy"]["matrix"]["python"] == ["3.12", "3.14"]
    assert ci["lint-tests"]["steps"][1]["with"]["python-version"] == "3.12"


TRICKY = [
    "3.10", "**", "yes", "on", "no", "null", "~", "true", "0x1F", "1e3", "", "a: b", "x #y",
    "#x", "*alias", "&anchor", "- dash", " lead", "trail ", "'q'", '"dq"', "{a}", "[a]", "@at",
    "%p", "`tick`", "${{ matrix.python }}", "multi\nline\n", "multi\nline", "tab\there",
]


def test_the_emitter_writes_every_scalar_so_the_forges_read_it_back_unchanged() -> None:
    flow: dict[str, Node] = {"name": "x", "on": {"push": {}}, "jobs": {"j": {
        "runs-on": "ubuntu-latest", "steps": [{"run": value} for value in TRICKY]}}}
    text = workflows.render(flow, "github")
    loaded = workflows.load_workflow(text)
    assert isinstance(loaded, dict)
    assert [step["run"] for step in loaded["jobs"]["j"]["steps"]] == TRICKY
    assert loaded["on"] == {"push": {}}


def test_a_scalar_the_emitter_cannot_write_faithfully_is_refused() -> None:
    flow: dict[str, Node] = {"name": "x", "on": {"push": {}}, "jobs": {"j": {
        "steps": [{"run": "a\n\n"}]}}}
    with pytest.raises(ToolingError, match="does not parse back"):
        workflows.render(flow, "gitea")


def test_check_fails_on_an_edited_file_and_writing_restores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project_copy(tmp_path)
    assert workflows.main(["--root", str(root)]) == 0
    edited = root / ".gitea/workflows/release.yml"
    edited.write_text(edited.read_text() + "# a hand edit\n")
    capsys.readouterr()

    assert workflows.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert ".gitea/workflows/release.yml: differs" in err
    assert "run `invoke workflows`" in err

    assert workflows.main(["--root", str(root)]) == 0
    assert "updated .gitea/workflows/release.yml" in capsys.readouterr().out
    assert workflows.main(["--check", "--root", str(root)]) == 0


def test_writing_creates_missing_files_removes_orphans_and_keeps_hand_written_ones(
    tmp_path: Path
) -> None:
    root = _project_copy(tmp_path)
    folder = root / ".github/workflows"
    folder.mkdir(parents=True)
    orphan = folder / "old.yml"
    orphan.write_text(f"{workflows.GENERATED_MARKER}\nname: old\n")
    custom = folder / "custom.yml"
    custom.write_text("name: custom\n")

    assert workflows.main(["--root", str(root)]) == 0
    for stem in STEMS:
        assert (root / ".github/workflows" / f"{stem}.yml").is_file()
        assert (root / ".gitea/workflows" / f"{stem}.yml").is_file()
    assert not orphan.exists()
    assert custom.read_text() == "name: custom\n"
    assert not list(root.rglob("*.tmp"))


def test_invoke_workflows_check_passes_on_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert release.run_workflows(check=True) == 0


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tooling.ci.workflows", "--check"], cwd=REPO,
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "6 workflow files up to date" in done.stdout


def test_the_release_dispatch_offers_a_dev_release_instead_of_a_release(
    files: tuple[workflows.GeneratedFile, ...]
) -> None:
    for forge in workflows.FORGES:
        flow = _load(files, forge, "release")
        dev = flow["on"]["workflow_dispatch"]["inputs"]["dev"]
        assert (dev["type"], dev["default"]) == ("boolean", False)
        assert _step(flow, "Release")["if"] == "${{ !inputs.dev }}"
        step = _step(flow, "Dev release")
        assert (step["if"], step["run"]) == ("${{ inputs.dev }}", "invoke release --yes --dev")
        assert step["env"] == _step(flow, "Release")["env"]
        assert "Release on merge" not in [s["name"] for s in flow["jobs"]["release"]["steps"]]


def _on_merge_settings(tmp_path: Path) -> workflows.Settings:
    root = _project_copy(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").replace(
        'release-branch = "main"\n',
        'release-on-merge = true\nrelease-branch = "staging"\n'
        'release-paths = ["shared/**", "requirements.txt"]\n', 1)
    assert "release-on-merge = true" in text
    pyproject.write_text(text, encoding="utf-8")
    return workflows.settings_from_project(root)


def test_release_on_merge_also_runs_on_the_release_branch_filtered_by_the_runtime_paths(
    tmp_path: Path,
) -> None:
    generated = workflows.expected_files(_on_merge_settings(tmp_path))
    for forge in workflows.FORGES:
        flow = _load(generated, forge, "release")
        assert flow["on"]["push"] == {
            "branches": ["staging"], "tags": ["runtime-v*"],
            "paths": ["workspace/**", "pyproject.toml", "shared/**", "requirements.txt"],
        }
        merged = "github.event_name == 'push' && github.ref_type == 'branch'"
        step = _step(flow, "Release on merge")
        assert (step["if"], step["run"]) == (f"${{{{ {merged} }}}}",
                                             "invoke release --yes --on-merge")
        # A merge runs only the on-merge step; a tag push or a dispatch only the others.
        assert _step(flow, "Release")["if"] == f"${{{{ !inputs.dev && !({merged}) }}}}"
        assert step["env"] == _step(flow, "Release")["env"]
        assert flow["jobs"]["release"]["permissions"]["pull-requests"] == "write"
        assert flow["concurrency"] == {"group": "release", "cancel-in-progress": False}


def test_release_on_merge_workflows_pass_actionlint_zizmor_and_the_gitea_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "tree"
    workflows.write_files(tree, workflows.expected_files(_on_merge_settings(tmp_path)))
    checks = ["--only", "parity", "--only", "gitea", "--only", "actionlint", "--only", "zizmor"]
    assert lint.main(["--root", str(tree), *checks]) == 0, capsys.readouterr().out
