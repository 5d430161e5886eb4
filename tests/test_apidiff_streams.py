"""Clean streams: a machine-format report owns stdout, errors are one line on stderr.

Also through nox, which merges a command's stderr into its stdout unless told otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from helpers import FIXTURES, REPO_ROOT, commit, git, init_repo

if TYPE_CHECKING:
    from pathlib import Path

PROJECT = FIXTURES / "apidiff-reexports"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The re-export fixture released, then a name dropped from a re-export (a break)."""
    files = {p.relative_to(PROJECT).as_posix(): p.read_bytes()
             for p in PROJECT.rglob("*") if p.is_file()}
    path = init_repo(tmp_path / "repo", files, message="feat: first release")
    git(path, "tag", "runtime-v1.0.0")
    init = path / "src" / "adapters" / "__init__.py"
    init.write_text(init.read_text().replace("AdapterConfig, BaseAdapter", "BaseAdapter"))
    commit(path, "fix: trim the adapters package")
    return path


def _api(repo: Path, *args: str, actions: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env["GITHUB_ACTIONS"] = "true" if actions else "false"
    return subprocess.run(
        [sys.executable, "-m", "tooling.api", "--root", str(repo), *args],
        cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.mark.parametrize("fmt", ["json", "markdown", "github"])
def test_a_failing_gate_under_actions_leaves_stdout_to_the_report(repo: Path, fmt: str) -> None:
    done = _api(repo, "--format", fmt, "--declared", "patch")
    assert done.returncode == 1
    if fmt == "json":
        assert json.loads(done.stdout)["required_bump"] == "major"
    assert "error: declared bump patch is below the required major" not in done.stdout
    assert "::error file=" not in done.stdout or fmt == "github"
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1
    assert "tinyrx.adapters.AdapterConfig (removed)" in errors[0]


def test_output_writes_the_report_to_a_file_and_nothing_to_stdout(
    repo: Path, tmp_path: Path
) -> None:
    report = tmp_path / "api.json"
    done = _api(repo, "--format", "json", "--output", str(report), actions=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [c["path"] for c in data["breaking"]] == ["tinyrx.adapters.AdapterConfig"]
    assert data["breaking"][0]["still_at"] == "tinyrx.adapter_base.AdapterConfig"


def test_output_into_a_missing_directory_is_one_error_line(repo: Path, tmp_path: Path) -> None:
    done = _api(repo, "--output", str(tmp_path / "nope" / "api.json"), actions=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: --output {tmp_path / 'nope' / 'api.json'}: no such directory; create it first"
    ]


@pytest.mark.slow
@pytest.mark.index
def test_nox_api_diff_json_keeps_errors_off_stdout(repo: Path, tmp_path: Path) -> None:
    nox = shutil.which("nox")
    assert nox is not None
    done = subprocess.run(
        [nox, "-f", str(REPO_ROOT / "noxfile.py"), "--envdir", str(tmp_path / "nox"),
         "-s", "api-diff", "--", "--root", str(repo), "--format", "json",
         "--declared", "minor"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "GITHUB_ACTIONS": "false"},
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["required_bump"] == "major"
    assert "error: declared bump minor is below the required major" in done.stderr
