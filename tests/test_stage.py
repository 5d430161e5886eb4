"""Staging: the rewritten package, the derived pyproject, the version, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.build.checks import scan_source
from tooling.build.stage import FALLBACK_EPOCH, source_date_epoch, stage
from tooling.config import load_config
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE_FILES = {
    "tiny_runtime/__init__.py",
    "tiny_runtime/cli.py",
    "tiny_runtime/compat.json",
    "tiny_runtime/helpers.py",
    "tiny_runtime/py.typed",
    "tiny_runtime/tools/__init__.py",
    "tiny_runtime/tools/shout.py",
}


def make_project(tmp_path: Path, *, commit: bool = True) -> Path:
    root = helpers.copy_fixture("tinyws", tmp_path / "proj")
    if commit:
        helpers.git(root, "init", "-q", "-b", "main")
        helpers.git(root, "add", "-A")
        helpers.git(root, "commit", "-q", "-m", "chore: fixture")
    return root


def run_tool(root: Path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(helpers.REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


def set_in_pyproject(root: Path, old: str, new: str) -> None:
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_stage_holds_the_rewritten_package_and_nothing_excluded(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = stage(load_config(root))
    assert result.root == root / "build" / "stage"
    assert set(result.modules) == PACKAGE_FILES
    assert set(result.files) == PACKAGE_FILES | {"pyproject.toml", "README.md"}
    for rel in result.modules:
        if rel.endswith(".py"):
            code = (result.root / rel).read_bytes()
            assert scan_source(code, result.names, rel) == [], rel
    assert b"tiny_runtime" in (result.package_dir / "tools" / "shout.py").read_bytes()


def test_staged_pyproject_is_project_table_plus_plain_flit_backend(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = stage(load_config(root))
    staged = tomllib.loads(result.pyproject.read_text(encoding="utf-8"))
    original = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert staged["build-system"] == {
        "requires": ["flit_core>=3.11,<5"], "build-backend": "flit_core.buildapi",
    }
    assert staged["tool"] == {"flit": {"module": {"name": "tiny_runtime"}}}
    assert staged["project"] == original["project"]
    assert (result.root / "README.md").read_bytes() == (root / "README.md").read_bytes()


def test_version_comes_from_metadata_and_no_literal_is_staged(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = stage(load_config(root))
    init = (result.package_dir / "__init__.py").read_text(encoding="utf-8")
    assert '__version__ = _distribution_version("tiny-runtime")' in init
    for rel in result.modules:
        assert b"1.2.3" not in (result.root / rel).read_bytes() or rel.endswith("compat.json")


def test_a_new_module_ships_without_any_configuration_change(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "ws" / "extra.py").write_text("import helpers\nVALUE = helpers.greet('x')\n")
    result = stage(load_config(root))
    assert "tiny_runtime/extra.py" in result.modules
    staged = (result.package_dir / "extra.py").read_bytes()
    assert scan_source(staged, result.names, "extra.py") == []


def test_restaging_replaces_the_tree_and_leaves_no_temp_dirs(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = load_config(root)
    stage(config)
    (root / "ws" / "helpers.py").unlink()
    (root / "ws" / "cli.py").write_text("def main() -> int:\n    return 0\n")
    (root / "ws" / "tools" / "shout.py").write_text("X = 1\n")
    result = stage(config)
    assert "tiny_runtime/helpers.py" not in result.modules
    assert not (result.package_dir / "helpers.py").exists()
    assert sorted(p.name for p in (root / "build").iterdir() if p.name != ".cache") == ["stage"]


def test_syntax_error_names_path_line_col_and_keeps_previous_stage(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = load_config(root)
    before = stage(config)
    snapshot = {f: (before.root / f).read_bytes() for f in before.files}
    (root / "ws" / "helpers.py").write_text("def greet(name:\n    return name\n")
    with pytest.raises(ToolingError) as caught:
        stage(config)
    message = str(caught.value)
    assert "helpers.py:1:" in message
    assert "\n" not in message
    assert {f: (before.root / f).read_bytes() for f in before.files} == snapshot
    assert sorted(p.name for p in (root / "build").iterdir() if p.name != ".cache") == ["stage"]


def test_missing_entry_point_target_is_named(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, '"tiny_runtime.cli:main"', '"tiny_runtime.cli:run"')
    with pytest.raises(ToolingError) as caught:
        stage(load_config(root))
    assert "[project.scripts] tiny" in str(caught.value)
    assert "defines no run" in str(caught.value)
    assert not (root / "build" / "stage").exists()


def test_entry_point_into_a_missing_module_is_named(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, '"tiny_runtime.cli:main"', '"tiny_runtime.gone:main"')
    with pytest.raises(ToolingError, match=r"module tiny_runtime\.gone is not in the staged"):
        stage(load_config(root))


def test_excluded_module_imported_by_shipped_code_fails_the_stage(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, 'exclude = ["tests",', 'exclude = ["helpers.py", "tests",')
    with pytest.raises(ToolingError) as caught:
        stage(load_config(root))
    assert "helpers" in str(caught.value)
    assert not (root / "build" / "stage").exists()


def test_hard_coded_version_in_the_source_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "ws" / "__init__.py").write_text('"""Tiny."""\n__version__ = "1.2.3"\n')
    with pytest.raises(ToolingError, match="defines __version__"):
        stage(load_config(root))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('version = "1.2.3"', 'version = "1.2"', "is not a release version"),
        ('"tiny_runtime.cli:main"', '"tiny_runtime.cli:nope"', "defines no nope"),
        ('"tiny_runtime.cli:main"', '"tiny_runtime.cli"', "is not `module:function`"),
    ],
    ids=["non-pep440-version", "missing-target", "malformed-target"],
)
def test_stage_command_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, old, new)
    done = run_tool(root, "tooling.build.stage")
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert expected in errors[0]
    assert "Traceback" not in done.stderr
    assert not (root / "build" / "stage").exists()


def test_source_date_epoch_is_the_last_commit_time(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    expected = int(helpers.git(root, "log", "-1", "--format=%ct"))
    assert source_date_epoch(root, env={}) == expected
    assert source_date_epoch(root, env={"SOURCE_DATE_EPOCH": "12345"}) == 12345


def test_source_date_epoch_outside_git_is_the_fixed_fallback(tmp_path: Path) -> None:
    root = make_project(tmp_path, commit=False)
    assert source_date_epoch(root, env={}) == FALLBACK_EPOCH
