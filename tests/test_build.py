"""`nox -s build`: exact archives, reproducible bytes, the checks, and failing cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from typing import TYPE_CHECKING

import helpers
import pytest
from test_stage import PACKAGE_FILES, make_project, run_tool, set_in_pyproject

from tooling.build.checks import bare_imports, forbidden_entries, scan_source
from tooling.build.dists import build_distributions
from tooling.build.messages import metadata_hint, relocated, strip_ansi
from tooling.config import load_config
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

DIST_INFO = {
    "tiny_runtime-1.2.3.dist-info/METADATA",
    "tiny_runtime-1.2.3.dist-info/WHEEL",
    "tiny_runtime-1.2.3.dist-info/RECORD",
    "tiny_runtime-1.2.3.dist-info/entry_points.txt",
}


def wheel_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def sdist_names(path: Path) -> set[str]:
    with tarfile.open(path) as archive:
        return {m.name for m in archive.getmembers() if m.isfile()}


def test_wheel_and_sdist_hold_exactly_the_staged_project(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = build_distributions(load_config(root), quiet=True)
    assert sorted(p.name for p in (root / "dist").iterdir()) == [
        "tiny_runtime-1.2.3-py3-none-any.whl", "tiny_runtime-1.2.3.tar.gz",
    ]
    assert wheel_names(result.wheel.path) == PACKAGE_FILES | DIST_INFO
    prefix = "tiny_runtime-1.2.3/"
    assert sdist_names(result.sdist.path) == {
        prefix + name for name in PACKAGE_FILES | {"pyproject.toml", "README.md", "PKG-INFO"}
    }
    assert bare_imports(result.wheel.path, result.stage.names) == []
    with tarfile.open(result.sdist.path) as archive:
        staged = archive.extractfile(prefix + "pyproject.toml")
        assert staged is not None
        assert b'build-backend = "flit_core.buildapi"' in staged.read()


def test_two_builds_of_one_commit_are_byte_identical(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = load_config(root)
    first = build_distributions(config, quiet=True)
    assert not first.checks_cached
    first_bytes = (first.wheel.path.read_bytes(), first.sdist.path.read_bytes())
    (root / "ws" / "helpers.py").touch()  # a new mtime must not change a byte
    second = build_distributions(config, quiet=True)
    assert second.checks_cached  # same bytes: twine & co. already passed them
    assert not build_distributions(config, quiet=True, check_cache=False).checks_cached
    assert (second.wheel.sha256, second.sdist.sha256) == (first.wheel.sha256, first.sdist.sha256)
    assert (second.wheel.path.read_bytes(), second.sdist.path.read_bytes()) == first_bytes
    commit_time = int(helpers.git(root, "log", "-1", "--format=%ct"))
    assert second.source_date_epoch == commit_time
    with zipfile.ZipFile(second.wheel.path) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    assert len(stamps) == 1


def test_build_command_prints_files_sizes_and_sha256_and_json(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    done = run_tool(root, "tooling.build")
    assert done.returncode == 0, done.stderr
    assert "dist/tiny_runtime-1.2.3-py3-none-any.whl" in done.stdout
    assert "sha256:" in done.stdout
    assert "sdist wheel == direct wheel" in done.stdout
    as_json = run_tool(root, "tooling.build", "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert {f["name"] for f in data["files"]} == {
        "tiny_runtime-1.2.3-py3-none-any.whl", "tiny_runtime-1.2.3.tar.gz",
    }
    wheel = root / "dist" / "tiny_runtime-1.2.3-py3-none-any.whl"
    assert {f["sha256"] for f in data["files"]} >= {helpers.sha256_file(wheel)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("ws/helpers.py", "def greet(name:\n    pass\n"), "helpers.py:1:"),
        (("pyproject.toml", ('version = "1.2.3"', 'version = "v1.2.3"')), "'v1.2.3'"),
        (("pyproject.toml", ('"tiny_runtime.cli:main"', '"tiny_runtime.cli:gone"')), "gone"),
        (("pyproject.toml", ('exclude = ["tests",', 'exclude = ["tools", "tests",')), "tools"),
    ],
    ids=["syntax-error", "non-pep440-version", "missing-entry-point", "excluded-but-imported"],
)
def test_bad_input_fails_in_one_line_and_keeps_the_previous_dist(
    tmp_path: Path, change: tuple[str, object], expected: str
) -> None:
    root = make_project(tmp_path)
    build_distributions(load_config(root), quiet=True)
    before = {p.name: p.read_bytes() for p in (root / "dist").iterdir()}
    stage_before = sorted(p.name for p in (root / "build" / "stage").rglob("*"))
    rel, edit = change
    if isinstance(edit, tuple):
        set_in_pyproject(root, *edit)
    else:
        (root / rel).write_text(str(edit), encoding="utf-8")
    done = run_tool(root, "tooling.build")
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert expected in errors[0]
    assert "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in (root / "dist").iterdir()} == before
    assert sorted(p.name for p in (root / "build" / "stage").rglob("*")) == stage_before
    leftovers = [p.name for p in root.iterdir() if "-tmp-" in p.name]
    leftovers += [p.name for p in (root / "build").iterdir() if "-tmp-" in p.name]
    assert leftovers == []


def test_bad_input_on_a_fresh_checkout_creates_no_dist(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, '"tiny_runtime.cli:main"', '"tiny_runtime.cli:gone"')
    done = run_tool(root, "tooling.build")
    assert done.returncode == 1
    assert not (root / "dist").exists()
    assert not (root / "build" / "stage").exists()


def test_secret_looking_and_test_files_are_forbidden_in_archives() -> None:
    names = [
        "pkg/__init__.py", "pkg/.env", "pkg/keys/server.pem", "pkg/id_rsa", "pkg/tests/test_x.py",
        "pkg/__pycache__/m.cpython-311.pyc", "pkg/conftest.py", "pkg-1.0.dist-info/RECORD",
        "pkg/testing_tools.py",
    ]
    assert forbidden_entries(names) == sorted([
        "pkg/.env", "pkg/keys/server.pem", "pkg/id_rsa", "pkg/tests/test_x.py",
        "pkg/__pycache__/m.cpython-311.pyc", "pkg/conftest.py",
    ])


def test_bare_import_scan_finds_every_spelling() -> None:
    code = (
        b"import os\nimport helpers\nfrom tools.shout import shout\n"
        b"import importlib\nm = importlib.import_module('helpers')\n"
        b"from tiny_runtime import helpers as ok\nfrom . import sibling\n"
        b"def f():\n    import tools\n"
    )
    found = scan_source(code, frozenset({"helpers", "tools"}), "pkg/m.py")
    assert [(b.line, b.name) for b in found] == [
        (2, "helpers"), (3, "tools.shout"), (5, "helpers"), (9, "tools"),
    ]


def test_a_no_op_build_imports_neither_libcst_nor_griffe(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    first = run_tool(root, "tooling.build")
    assert first.returncode == 0, first.stderr
    compat = (root / "build" / "stage" / "tiny_runtime" / "compat.json").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(helpers.REPO_ROOT)}
    again = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tooling.build"],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=300,
    )
    assert again.returncode == 0, again.stderr
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in again.stderr.splitlines() if "|" in ln}
    assert "tooling.rewrite" in imported  # the rewriter ran, from its cache
    assert not {m for m in imported if m.split(".")[0] in {"libcst", "griffe"}}
    assert (root / "build" / "stage" / "tiny_runtime" / "compat.json").read_bytes() == compat


def test_twine_failure_names_the_project_field_without_colour_codes(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "README.rst").write_text("Title\n=\n\n.. broken:: directive\n   :x:\n\n`bad\n")
    set_in_pyproject(root, 'readme = "README.md"', 'readme = "README.rst"')
    done = run_tool(root, "tooling.build", "--no-check-cache")
    assert done.returncode == 1, done.stdout
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert "twine check --strict" in line
    assert "set [project] readme" in line
    assert "\x1b" not in done.stderr
    assert "-tmp-" not in line  # no temp folder that is deleted by the time it is read


def test_errors_name_sources_and_dist_not_deleted_temp_folders(tmp_path: Path) -> None:
    moved = relocated(
        ToolingError(f"{tmp_path}/.stage-tmp-x/pkg/a.py:3: closure", path=tmp_path / ".stage-tmp-x"
                     / "pkg" / "a.py", line=3),
        {tmp_path / ".stage-tmp-x" / "pkg": tmp_path / "ws", tmp_path / ".stage-tmp-x": "stage"},
    )
    assert moved.message == f"{tmp_path}/ws/a.py:3: closure"
    assert (moved.path, moved.line) == (f"{tmp_path}/ws/a.py", 3)
    coloured = "\x1b[31mERROR\x1b[0m `long_description` bad"
    assert strip_ansi(coloured) == "ERROR `long_description` bad"
    assert metadata_hint("`long_description_content_type` missing").startswith(
        "set [project] readme"
    )
    assert metadata_hint("no such thing") == ""
