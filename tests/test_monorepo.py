"""The pipeline inside a monorepo: adoption, path-scoped versions, workflows that coexist.

The fixture is a monorepo (a Go server, a web canvas, docs, CI of its own and the agent
runtime in agent/) whose history mixes runtime and non-runtime conventional commits, a merge,
a pyproject.toml edit outside [project], and a release tag older than the pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import helpers
import pytest
from helpers import FIXTURES, REPO_ROOT, commit, git

from tooling.api.diff import api_floor
from tooling.ci import lint, workflows
from tooling.config import load_config
from tooling.e2e import CONSUMERS, make_consumer, write_consumers
from tooling.release import adopt

if TYPE_CHECKING:
    from pathlib import Path

ADOPT = ["--source", "agent", "--package", "agent_runtime",
         "--distribution", "acme-agent-runtime"]
RUNTIME_CI_PATHS = [
    "agent/**", "pyproject.toml", "tooling/**", "noxfile.py", "tasks.py",
    ".github/workflows/runtime-*", ".gitea/workflows/runtime-*",
]


def _tool(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <argv>`` in ``cwd`` with this checkout's tooling/ importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **extra}
    return subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


def _history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The monorepo before adoption, with an old release tag and mixed commits since."""
    repo = tmp_path / "acme"
    shutil.copytree(FIXTURES / "monorepo", repo)
    helpers.init_repo(repo, files={}, message="chore: import the monorepo")
    git(repo, "tag", "-a", "-m", "old release", "runtime-v0.3.0")
    shas = {}
    shas["feat"] = commit(repo, "feat(agent): search by prefix", {
        "agent/tools/search.py": '"""Search."""\n\n\ndef find(text: str) -> str:\n'
                                 '    """Return what was asked."""\n    return text\n\n\n'
                                 'def by_prefix(prefix: str) -> list[str]:\n'
                                 '    """Everything starting with ``prefix``."""\n'
                                 '    return [prefix]\n'})
    shas["canvas"] = commit(repo, "fix(canvas): align chat bubbles",
                            {"web/src/app.ts": 'export const bubble = "right";\n'})
    git(repo, "switch", "-q", "-c", "retry")
    shas["both"] = commit(repo, "fix(agent): retry the search once", {
        "agent/core.py": (FIXTURES / "monorepo/agent/core.py").read_text() + "\n_RETRIES = 1\n",
        "web/src/app.ts": 'export const bubble = "right";\nexport const retry = true;\n'})
    git(repo, "switch", "-q", "main")
    shas["docs"] = commit(repo, "docs: how the canvas talks to the agent",
                          {"docs/index.md": "# acme docs\n\nThe canvas asks the agent.\n"})
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'retry'", "retry")
    shas["ruff"] = commit(repo, "fix(lint): longer lines", {
        "pyproject.toml": (FIXTURES / "monorepo/pyproject.toml").read_text()
        .replace("100", "120")})
    shas["server"] = commit(repo, "feat(server): health endpoint",
                            {"server/main.go": "package main\n\nfunc health() {}\n"})
    return repo, shas


@pytest.fixture
def monorepo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The monorepo adopted with `invoke init` (committed) and pushed to a bare origin."""
    repo, shas = _history(tmp_path)
    assert adopt.main(["--root", str(repo), *ADOPT]) == 0
    shas["adopt"] = commit(repo, "chore: adopt the runtime release pipeline")
    helpers.make_bare_remote(repo, tmp_path / "origin.git")
    return repo, shas


def _dry_run(repo: Path, *flags: str) -> dict[str, Any]:
    done = _tool(repo, "tooling.release", "--dry-run", "--json", *flags)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_only_runtime_commits_count_and_the_rest_are_reported_as_skipped(
    monorepo: tuple[Path, dict[str, str]],
) -> None:
    repo, shas = monorepo
    plan = _dry_run(repo)
    # The merge is read through: its runtime fix counts, the merge commit itself is no entry.
    # The adoption commit counts (it adds [project]) but asks for nothing.
    assert [c["sha"] for c in plan["commits"]] == [shas["feat"], shas["both"], shas["adopt"]]
    assert plan["skipped_outside"] == 4
    assert {c["sha"] for c in plan["outside"]} == {
        shas["canvas"], shas["docs"], shas["ruff"], shas["server"]}
    assert (plan["since"], plan["current"], plan["next"], plan["bump"]) == (
        "runtime-v0.3.0", "0.3.0", "0.4.0", "minor")
    assert plan["tag"] == "runtime-v0.4.0"
    assert plan["files"] == ["pyproject.toml", "agent/CHANGELOG.md"]
    # The old tag predates the pipeline: its tree is staged with today's settings.
    assert plan["notes"] == [("bootstrap: runtime-v0.3.0 has no [tool.runtime-build]; staged it "
                             "with today's settings (source 'agent', package 'agent_runtime')")]
    assert plan["api_floor"] == "minor"
    assert not (repo / ".release").exists()
    assert not (repo / "agent/CHANGELOG.md").exists()


def test_the_text_plan_lists_counted_commits_and_the_number_skipped(
    monorepo: tuple[Path, dict[str, str]],
) -> None:
    repo, _ = monorepo
    done = _tool(repo, "tooling.release", "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "commits since runtime-v0.3.0 that change the runtime: 3" in out
    assert "skipped as outside the runtime: 4 commit(s) (--all-paths counts them)" in out
    assert "bootstrap: runtime-v0.3.0 has no [tool.runtime-build]" in out
    assert "next version: 0.4.0 (minor release)" in out
    assert "canvas" not in out


def test_all_paths_counts_every_commit(monorepo: tuple[Path, dict[str, str]]) -> None:
    repo, _ = monorepo
    plan = _dry_run(repo, "--all-paths")
    assert len(plan["commits"]) == 7
    assert (plan["skipped_outside"], plan["scoped"]) == (0, False)
    assert plan["next"] == "0.4.0"


def test_the_changelog_lists_only_runtime_entries(monorepo: tuple[Path, dict[str, str]]) -> None:
    repo, shas = monorepo
    done = _tool(repo, "tooling.versioning.changelog")
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("\n", 1)[1]
    assert section == (
        f"\n### Features\n\n- **agent:** search by prefix ({shas['feat'][:7]})\n\n"
        f"### Fixes\n\n- **agent:** retry the search once ({shas['both'][:7]})\n"
    )


def test_a_window_of_only_non_runtime_commits_releases_nothing(
    monorepo: tuple[Path, dict[str, str]],
) -> None:
    repo, _ = monorepo
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.3.0"', 'version = "0.4.0"'))
    commit(repo, "chore(release): 0.4.0")
    git(repo, "tag", "-a", "-m", "0.4.0", "runtime-v0.4.0")
    commit(repo, "fix(canvas): three dots while the agent thinks",
           {"web/src/app.ts": "export const typing = true;\n"})
    commit(repo, "fix(chat): keep the scroll position",
           {"web/src/app.ts": "export const scroll = true;\n"})
    commit(repo, "chore: lint the tests too",
           {"pyproject.toml": pyproject.read_text() + "\n[tool.mypy]\nstrict = true\n"})
    git(repo, "push", "-q", "origin", "main", "--tags")
    before = (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"),
              pyproject.read_bytes())
    plan = _dry_run(repo)
    assert (plan["release"], plan["next"], plan["commits"]) == (False, None, [])
    assert plan["skipped_outside"] == 3
    assert plan["reason"].startswith("nothing to release: no commit since runtime-v0.4.0 "
                                     "changes the runtime")
    # A real run too: credentials pass preflight, then the plan stops it before any step.
    creds = {"TWINE_REPOSITORY_URL": "http://127.0.0.1:9/", "TWINE_USERNAME": "u",
             "TWINE_PASSWORD": helpers.SENTINEL, "RUNTIME_INDEX_URL": "http://127.0.0.1:9/simple/"}
    done = _tool(repo, "tooling.release", "--yes", **creds)
    assert done.returncode == 0, done.stderr
    assert helpers.SENTINEL not in done.stdout + done.stderr
    assert done.stdout.startswith("nothing to release")
    # Nothing written: no version, no CHANGELOG, no commit (only the ignored lock and cache).
    assert (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"),
            pyproject.read_bytes()) == before
    assert not (repo / "agent/CHANGELOG.md").exists()
    assert git(repo, "tag", "--list", "runtime-v0.4.1", "runtime-v0.5.0") == ""


def test_against_and_baseline_version_plan_from_any_ref(
    monorepo: tuple[Path, dict[str, str]],
) -> None:
    repo, shas = monorepo
    plan = _dry_run(repo, "--against", shas["canvas"], "--baseline-version", "1.2.0")
    assert [c["sha"] for c in plan["commits"]] == [shas["both"], shas["adopt"]]
    assert (plan["current"], plan["next"], plan["since"]) == ("1.2.0", "1.2.1", shas["canvas"])
    done = _tool(repo, "tooling.release", "--dry-run", "--against", "no-such-ref")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ")
    assert "pass --against with a tag, branch or sha that exists" in error


def test_api_diff_bootstraps_from_the_old_tag(monorepo: tuple[Path, dict[str, str]]) -> None:
    repo, _ = monorepo
    done = _tool(repo, "tooling.api", "--against", "runtime-v0.3.0", "--json")
    assert done.returncode == 0, done.stderr
    assert "note: bootstrap: runtime-v0.3.0 has no [tool.runtime-build]" in done.stderr
    report = json.loads(done.stdout)
    assert report["required_bump"] == "minor"


def test_init_merges_the_pipeline_and_a_second_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = _history(tmp_path)
    assert adopt.main(["--root", str(repo), *ADOPT, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+++ b/pyproject.toml" in out
    assert '+name = "acme-agent-runtime"' in out
    assert "+++ b/.github/workflows/runtime-ci.yml" in out
    assert git(repo, "status", "--porcelain") == ""  # --dry-run writes nothing

    assert adopt.main(["--root", str(repo), *ADOPT]) == 0
    out = capsys.readouterr().out
    assert "left to decide:" in out
    assert "[project] dependencies" in out
    text = (repo / "pyproject.toml").read_text()
    # The host's own table and comment stay as they were, above the merged tables.
    assert text.startswith("# The monorepo's own Python tooling settings; no [project] yet.\n"
                           "[tool.ruff]\nline-length = 120\n")
    assert '[project]\nname = "acme-agent-runtime"\nversion = "0.3.0"\n' in text
    assert ('[tool.runtime-build]\nsource = "agent"\npackage = "agent_runtime"\n'
            'tag-prefix = "runtime-v"\nrelease-branch = "main"\n'
            'changelog = "agent/CHANGELOG.md"\n') in text
    assert '[tool.runtime-build.workflows]\nprefix = "runtime-"\n' in text
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert {"/build/", "/dist/", "/.nox/", "/.release/", "/.cache/"} <= set(ignored)
    snapshot = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git/" not in
                p.as_posix()}

    assert adopt.main(["--root", str(repo), *ADOPT]) == 0
    assert "already adopted: nothing to change" in capsys.readouterr().out
    assert snapshot == {p: p.read_bytes() for p in repo.rglob("*")
                        if p.is_file() and ".git/" not in p.as_posix()}


def test_generated_workflows_coexist_with_the_hosts_own(monorepo: tuple[Path, dict[str, str]],
                                                        ) -> None:
    repo, _ = monorepo
    names = sorted(p.relative_to(repo).as_posix() for p in repo.glob(".git*/workflows/*"))
    assert names == [
        ".gitea/workflows/runtime-ci.yml", ".gitea/workflows/runtime-drift.yml",
        ".gitea/workflows/runtime-release.yml", ".github/workflows/ci.yml",
        ".github/workflows/runtime-ci.yml", ".github/workflows/runtime-drift.yml",
        ".github/workflows/runtime-release.yml",
    ]
    assert (repo / ".github/workflows/ci.yml").read_text() == (
        FIXTURES / "monorepo/.github/workflows/ci.yml").read_text()
    for forge in workflows.FORGES:
        flow = workflows.load_workflow((repo / workflows.WORKFLOW_DIRS[forge] /
                                        "runtime-ci.yml").read_text())
        assert isinstance(flow, dict)
        assert flow["name"] == "runtime-ci"
        assert flow["on"]["push"]["paths"] == RUNTIME_CI_PATHS
        assert flow["on"]["pull_request"]["paths"] == RUNTIME_CI_PATHS
    # The host's GitHub-only ci.yml is not ours: parity and staleness leave it alone.
    assert lint.check_parity(repo).ok
    assert lint.check_generated(repo, workflows.expected_files(
        workflows.settings_from_project(repo))).ok


def test_workflows_never_overwrite_a_file_they_did_not_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = _history(tmp_path)
    assert adopt.main(["--root", str(repo), *ADOPT, "--workflow-prefix", ""]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: .github/workflows/ci.yml: a workflow of that name exists")
    assert "--workflow-prefix" in err
    assert git(repo, "status", "--porcelain") == ""
    # `invoke workflows` refuses the same way, naming the setting that avoids it.
    assert adopt.main(["--root", str(repo), *ADOPT]) == 0
    (repo / ".github/workflows/runtime-drift.yml").write_text("name: theirs\n")
    assert workflows.main(["--root", str(repo)]) == 1
    assert "not generated by `invoke workflows`" in capsys.readouterr().err
    assert (repo / ".github/workflows/runtime-drift.yml").read_text() == "name: theirs\n"


def test_gitea_1_22_files_have_no_dispatch_inputs_and_no_concurrency(tmp_path: Path) -> None:
    repo, _ = _history(tmp_path)
    assert adopt.main(["--root", str(repo), *ADOPT, "--gitea-version", "1.22"]) == 0
    for stem in ("ci", "release", "drift"):
        gitea = (repo / f".gitea/workflows/runtime-{stem}.yml").read_text()
        github = (repo / f".github/workflows/runtime-{stem}.yml").read_text()
        assert "concurrency" not in gitea
        assert "inputs" not in gitea
        assert "concurrency" in github
    release = workflows.load_workflow((repo / ".gitea/workflows/runtime-release.yml").read_text())
    assert isinstance(release, dict)
    assert release["on"]["workflow_dispatch"] == {}
    # The lints pass on what was generated and leave the host's own ci.yml (which zizmor
    # would flag) alone; the missing concurrency is deliberate for that Gitea.
    checks = ("parity", "generated", "actionlint", "zizmor")
    assert lint.main(["--root", str(repo), *(f"--only={c}" for c in checks)]) == 0


def test_a_build_output_not_yet_ignored_gets_the_advice_to_ignore_it(
    monorepo: tuple[Path, dict[str, str]],
) -> None:
    repo, _ = monorepo
    gitignore = repo / ".gitignore"
    gitignore.write_text("")
    commit(repo, "chore: forget the ignores")
    git(repo, "push", "-q", "origin", "main")
    (repo / "dist").mkdir()
    (repo / "dist/acme.whl").write_text("x")
    done = _tool(repo, "tooling.release", "--dry-run")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].endswith(
        "dist/ not ignored by git: build outputs, never committed; add dist/ to .gitignore "
        "(invoke init adds them) and run the release again")
    gitignore.write_text("/dist/\n")
    commit(repo, "chore: ignore dist")
    git(repo, "push", "-q", "origin", "main")
    assert _tool(repo, "tooling.release", "--dry-run").returncode == 0


@pytest.mark.slow
def test_the_first_release_after_adoption_writes_the_changelog_beside_the_runtime(
    tmp_path: Path, fresh_index: helpers.PackageIndex,
) -> None:
    repo, shas = _history(tmp_path)
    assert adopt.main(["--root", str(repo), *ADOPT]) == 0
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **fresh_index.twine_env(),
           "RUNTIME_SMOKE_PYTHONS": f"{sys.version_info.major}.{sys.version_info.minor}"}
    spec = CONSUMERS[1]  # a consumer with a release workflow, so the cascade bumps it
    consumer = make_consumer(tmp_path / "consumers", spec, "0.3.0", "acme-agent-runtime", env)
    write_consumers(repo / "consumers.toml", {spec.name: consumer})
    commit(repo, "chore: adopt the runtime release pipeline")
    helpers.make_bare_remote(repo, tmp_path / "origin.git")
    done = subprocess.run([sys.executable, "-m", "tooling.release", "--yes", "--json"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["version"], report["tag"]) == ("0.4.0", "runtime-v0.4.0")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "agent/CHANGELOG.md", "pyproject.toml"]
    changelog = (repo / "agent/CHANGELOG.md").read_text()
    assert f"- **agent:** search by prefix ({shas['feat'][:7]})" in changelog
    assert f"- **agent:** retry the search once ({shas['both'][:7]})" in changelog
    assert "canvas" not in changelog
    assert "server" not in changelog
    assert not (repo / "CHANGELOG.md").exists()
    assert git(consumer, "show", "main:.runtime-version") == "0.4.0"


def test_a_tag_without_any_pyproject_is_staged_with_todays_settings(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "old", files={
        "rt/core.py": '"""Core."""\n\n\ndef run() -> None:\n    """Run."""\n'})
    git(repo, "tag", "v0.9.0")
    commit(repo, "build: adopt the pipeline", {
        "pyproject.toml": '[project]\nname = "rt"\nversion = "0.9.0"\n\n'
                          '[tool.runtime-build]\nsource = "rt"\npackage = "rt_pkg"\n',
        "rt/core.py": '"""Core."""\n\n\ndef run() -> None:\n    """Run."""\n\n\n'
                      'def stop() -> None:\n    """Stop."""\n'})
    diff = api_floor(load_config(repo), "v0.9.0", cache=False)
    assert diff.notes == (("bootstrap: v0.9.0 has no pyproject.toml; staged it with today's "
                          "settings (source 'rt', package 'rt_pkg')"),)
    assert [c.path for c in diff.added] == ["rt_pkg.core.stop"]
    assert (diff.required_bump, diff.breaking) == ("minor", ())
