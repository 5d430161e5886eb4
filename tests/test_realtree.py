"""build, smoke and doctor end to end on a runtime tree shaped like a real monorepo's.

The tree (tests/fixtures/realtree) carries every pattern that once made the smoke fail for
the pipeline's sake, and one planted true defect of each kind: the smoke must report exactly
those defects, and the workspace tests must give the same outcome per test against the wheel
as on the source layout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
import pytest
from test_stage import run_tool

if TYPE_CHECKING:
    from pathlib import Path

ONE_PYTHON = "3.11"
PLANTED = [
    ("[3.11] imports: real_runtime.metrics: ImportError: cannot import name 'parse_strict' "
    "from 'packaging.version'"),
    ("[deps] pyproject.toml: DEP002 'iniconfig' is used only by excluded molecule_audit/: "
    "ship it or drop the dependency"),
    ("[deps] real_runtime/notifier.py:3:8: DEP003 'pluggy' imported but it is a transitive "
    "dependency"),
]


def commit_all(root: Path) -> None:
    helpers.git(root, "init", "-q", "-b", "main")
    helpers.git(root, "add", "-A")
    helpers.git(root, "commit", "-q", "-m", "chore: fixture")


def smoke_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(helpers.REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tooling.smoke", "--python", ONE_PYTHON, *args],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=900,
    )


@pytest.mark.slow
@pytest.mark.index
def test_build_and_smoke_report_exactly_the_planted_defects(tmp_path: Path, sentinel: str) -> None:
    root = helpers.copy_fixture("realtree", tmp_path / "rt")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("PLATFORM-TOKEN-PLACEHOLDER", sentinel))
    commit_all(root)
    built = run_tool(root, "tooling.build")
    assert built.returncode == 0, built.stderr

    done = smoke_cli(root, "--json", "--no-cache")
    assert done.returncode == 1, done.stderr
    assert sentinel not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["env"] == {"PLATFORM_API_TOKEN": "****", "WORKSPACE_ID": "smoke-ws"}
    assert [f.split(" (/")[0] for f in report["failures"]] == PLANTED
    (python,) = report["pythons"]
    states = {c["name"]: c["state"] for c in python["checks"]}
    assert states == {
        "venv": "ok", "install": "ok", "wheel": "ok", "imports": "FAIL", "entry-points": "ok",
        "stable-imports": "skip", "version": "skip", "serve": "skip", "tests": "ok",
    }
    tests = next(c for c in python["checks"] if c["name"] == "tests")["tests"]
    counts = {"passed": 9, "failed": 1, "errors": 0, "skipped": 1, "xfailed": 1,
              "not-collected": 0}
    assert tests["wheel"] == {"counts": counts, "problem": ""}
    assert tests["source"] == {"counts": counts, "problem": ""}
    assert tests["only_failing_against_wheel"] == []
    assert [c["test"] for c in tests["failing_in_both"]] == [
        "tests.test_known_bug::test_empty_line_is_kept"
    ]
    assert tests["tests_must_pass"] is False

    # With tests-must-pass (the default), the runtime's own failing test fails the smoke too.
    pyproject.write_text(pyproject.read_text().replace("tests-must-pass = false", ""))
    strict = smoke_cli(root)
    assert strict.returncode == 1
    assert sentinel not in strict.stdout + strict.stderr
    assert "runtime environment (smoke.env): PLATFORM_API_TOKEN=**** WORKSPACE_ID=smoke-ws" in (
        strict.stdout
    )
    errors = [ln for ln in strict.stderr.splitlines() if ln.startswith("error:")]
    assert ("error: [3.11] tests: tests.test_known_bug::test_empty_line_is_kept: failed in both "
            "layouts: AssertionError: assert '' == '<empty>'") in errors
    assert len(errors) == len(PLANTED) + 1


@pytest.mark.slow
@pytest.mark.index
def test_a_packaging_defect_is_named_with_its_first_error_line(tmp_path: Path) -> None:
    root = helpers.copy_fixture("realtree", tmp_path / "rt")
    # Shipping without the data file a test reads: passes on the source layout only.
    (root / "runtime" / "banner.txt").write_text("hello\n")
    (root / "runtime" / "tests" / "test_banner.py").write_text(
        "from pathlib import Path\n\n\ndef test_banner_file() -> None:\n"
        '    assert (Path(__file__).parent.parent / "banner.txt").read_text() == "hello\\n"\n'
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"molecule_audit"]', '"molecule_audit", '
                                                       '"banner.txt"]'))
    commit_all(root)
    assert run_tool(root, "tooling.build").returncode == 0
    done = smoke_cli(root, "--json", "--skip", "deps")
    report = json.loads(done.stdout)
    tests = next(c for c in report["pythons"][0]["checks"] if c["name"] == "tests")
    assert tests["state"] == "FAIL"
    (only,) = tests["tests"]["only_failing_against_wheel"]
    assert only["test"] == "tests.test_banner::test_banner_file"
    assert only["wheel"] == "failed"
    assert only["first_line"].startswith("FileNotFoundError: [Errno 2] No such file or directory")
