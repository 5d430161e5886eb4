"""The pipeline copied into another repository: it carries its own dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from typing import TYPE_CHECKING

from helpers import REPO_ROOT

from tooling.release import adopt

if TYPE_CHECKING:
    from pathlib import Path

HOST_PYPROJECT = '[project]\nname = "host-runtime"\nversion = "0.1.0"\ndependencies = []\n'


def _groups(path: Path) -> object:
    with path.open("rb") as fh:
        return tomllib.load(fh)["dependency-groups"]


def test_the_groups_that_travel_with_tooling_are_the_projects_own() -> None:
    # One list in effect: `pip install --group dev` and the nox sessions install the same.
    assert _groups(adopt.GROUPS_FILE) == _groups(REPO_ROOT / "pyproject.toml")


def _host(tmp_path: Path, pyproject: str) -> Path:
    host = tmp_path / "host"
    host.mkdir()
    shutil.copytree(REPO_ROOT / "tooling", host / "tooling",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "tasks.py"):
        shutil.copy2(REPO_ROOT / name, host / name)
    (host / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (host / "workspace").mkdir()
    return host


def _run(host: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=host, capture_output=True,
                          text=True, check=False)


def test_a_copy_into_a_host_without_dependency_groups_loads(tmp_path: Path) -> None:
    host = _host(tmp_path, HOST_PYPROJECT)
    listed = _run(host, "nox", "-l")
    assert listed.returncode == 0, listed.stderr
    assert "build ->" in listed.stdout
    tasks = _run(host, "invoke", "--list")
    assert tasks.returncode == 0, tasks.stderr
    assert "init" in tasks.stdout
    init = _run(host, "invoke", "init", "--dry-run", "--source", "workspace",
                "--package", "host_runtime")
    assert init.returncode == 0, init.stderr
    assert '+package = "host_runtime"' in init.stdout
    assert "+++ b/.github/workflows/runtime-release.yml" in init.stdout
    assert (host / "pyproject.toml").read_text(encoding="utf-8") == HOST_PYPROJECT


def test_missing_groups_are_one_error_line_naming_the_fix(tmp_path: Path) -> None:
    host = _host(tmp_path, HOST_PYPROJECT)
    (host / "tooling" / "dependency-groups.toml").unlink()
    done = _run(host, "nox", "-s", "versions")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert ("Session versions aborted: tooling/dependency-groups.toml: not found; copy tooling/ "
            "whole (it carries dependency-groups.toml) or run `invoke init`") in output


def test_a_host_without_a_project_table_is_told_to_run_init(tmp_path: Path) -> None:
    host = _host(tmp_path, "[tool.ruff]\nline-length = 100\n")
    done = _run(host, "nox", "-s", "workspace")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert ("Session workspace aborted: pyproject.toml: no [project] table with dependencies; "
            "run `invoke init`") in output
