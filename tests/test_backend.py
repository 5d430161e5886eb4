"""The in-tree PEP 517 backend: every build path at the root ships the namespaced package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import helpers
import pytest
from test_build import DIST_INFO, sdist_names, wheel_names
from test_stage import PACKAGE_FILES, make_project

from tooling.build import backend
from tooling.build.checks import bare_imports, scan_source
from tooling.build.dists import build_distributions
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import outputs_ignored
from tooling.rewrite import discover_names

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

_IGNORE = outputs_ignored(helpers.REPO_ROOT)


def with_backend(root: Path) -> Path:
    """Put this checkout's tooling/ beside the fixture (its backend-path is ".") and commit."""
    shutil.copytree(helpers.REPO_ROOT / "tooling", root / "tooling", ignore=_IGNORE)
    helpers.git(root, "add", "-A")
    helpers.git(root, "commit", "-q", "-m", "chore: add the backend")
    return root


def pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


def test_pip_wheel_at_the_root_builds_the_same_wheel_as_nox_build(tmp_path: Path) -> None:
    root = with_backend(make_project(tmp_path))
    done = pip("wheel", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "pip"), ".",
               cwd=root)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "pip").glob("*.whl")
    assert wheel_names(wheel) == PACKAGE_FILES | DIST_INFO
    assert bare_imports(wheel, discover_names(root / "ws")) == []
    assert not (root / "build").exists()  # the backend stages in a temp dir, not the tree
    nox_build = build_distributions(load_config(root), quiet=True)
    assert wheel.read_bytes() == nox_build.wheel.path.read_bytes()


def test_pip_install_dot_installs_importable_namespaced_modules(tmp_path: Path) -> None:
    root = with_backend(make_project(tmp_path))
    target = tmp_path / "site"
    done = pip("install", "--no-build-isolation", "--no-deps", "--target", str(target), ".",
               cwd=root)
    assert done.returncode == 0, done.stderr
    names = discover_names(root / "ws")
    for module in (target / "tiny_runtime").rglob("*.py"):
        assert scan_source(module.read_bytes(), names, str(module)) == [], module
    check = subprocess.run(
        [sys.executable, "-I", "-c", (
            f"import sys; sys.path.insert(0, {str(target)!r}); "
            "import tiny_runtime.cli, tiny_runtime.tools.shout as s; "
            "print(s.shouted_greeting('x'))"
        )],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert check.stdout.strip() == "HELLO X", check.stderr


def test_pip_wheel_from_a_git_url_builds_the_namespaced_wheel(tmp_path: Path) -> None:
    root = with_backend(make_project(tmp_path))
    done = pip("wheel", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "git"),
               f"git+file://{root}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "git").glob("*.whl")
    assert wheel_names(wheel) == PACKAGE_FILES | DIST_INFO
    assert bare_imports(wheel, discover_names(root / "ws")) == []


def test_python_m_build_sdist_is_the_staged_project_and_rebuilds(tmp_path: Path) -> None:
    root = with_backend(make_project(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "-o", str(tmp_path / "out"), "."],
        cwd=root, capture_output=True, text=True, check=False, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (sdist,) = (tmp_path / "out").glob("*.tar.gz")
    (wheel,) = (tmp_path / "out").glob("*.whl")  # built by flit_core from the sdist alone
    prefix = "tiny_runtime-1.2.3/"
    assert sdist_names(sdist) == {
        prefix + n for n in PACKAGE_FILES | {"pyproject.toml", "README.md", "PKG-INFO"}
    }
    assert wheel_names(wheel) == PACKAGE_FILES | DIST_INFO
    assert bare_imports(wheel, discover_names(root / "ws")) == []


def test_editable_install_is_refused_with_the_reason(tmp_path: Path) -> None:
    root = with_backend(make_project(tmp_path))
    done = pip("install", "--no-build-isolation", "--no-deps", "--target",
               str(tmp_path / "site"), "-e", ".", cwd=root)
    assert done.returncode != 0
    assert "cannot be installed editable" in done.stdout + done.stderr


def test_backend_asks_for_nothing_beyond_build_system_requires() -> None:
    assert backend.get_requires_for_build_wheel() == []
    assert backend.get_requires_for_build_sdist() == []
    assert backend.get_requires_for_build_editable() == []


def test_pip_wheel_of_the_real_repository_has_no_bare_import(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(helpers.REPO_ROOT, copy, ignore=_IGNORE)
    done = pip("wheel", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "out"), ".",
               cwd=copy)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "out").glob("*.whl")
    names = discover_names(copy / "workspace")
    assert bare_imports(wheel, names) == []
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.namelist()
    assert "molecule_runtime/main.py" in shipped
    assert not [n for n in shipped if n.split("/", 1)[0] in names]


def test_a_failure_inside_the_staged_build_is_one_line_naming_no_deleted_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    broken = text.replace("[project]\n", '[project]\nlicense-files = ["NO/*.txt"]\n', 1)
    pyproject.write_text(broken, encoding="utf-8")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(root)
    with pytest.raises(ToolingError) as caught:
        backend.build_wheel(str(tmp_path / "out"))
    message = str(caught.value)
    assert message.startswith("building the staged project failed: ConfigError: ")
    assert "license-files" in message
    assert "molecule-runtime-backend-" not in message
    assert "\n" not in message
