"""`nox -s smoke`: the installed wheel is what gets proved, and every kind of breakage shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import helpers
import pytest
from test_stage import make_project, run_tool, set_in_pyproject

from tooling.build.dists import build_distributions, build_project
from tooling.build.stage import source_date_epoch, stage
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import outputs_ignored
from tooling.smoke.deps import check_deps
from tooling.smoke.pythons import PYTHONS_ENV, find_pythons
from tooling.smoke.run import run_smoke

if TYPE_CHECKING:
    from tooling.smoke.checks import CheckResult
    from tooling.smoke.report import SmokeReport

ONE_PYTHON = "3.11"


def checks(report: SmokeReport) -> dict[str, CheckResult]:
    (only,) = report.pythons
    return {c.name: c for c in only.checks}


def smoke(root: Path, dist: Path | None = None) -> SmokeReport:
    config = load_config(root)
    return run_smoke(config, dist or root / "dist", find_pythons([ONE_PYTHON]))


def broken_wheel(root: Path, edit: dict[str, str | None]) -> Path:
    """A wheel built straight from a hand-edited stage, as a broken build path would make it."""
    config = load_config(root)
    staged = stage(config)
    for rel, content in edit.items():
        path = staged.package_dir / rel
        if content is None:
            path.unlink()
        else:
            path.write_text(content, encoding="utf-8")
    dist = root / "broken-dist"
    build_project(staged.root, dist, "wheel", epoch=source_date_epoch(root))
    return dist


@pytest.mark.slow
def test_smoke_command_passes_on_a_good_wheel_and_restricts_by_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    build_distributions(load_config(root), quiet=True)
    monkeypatch.setenv(PYTHONS_ENV, ONE_PYTHON)
    done = run_tool(root, "tooling.smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for check in ("venv", "install", "wheel", "imports", "entry-points", "version"):
        prefix = f"[{ONE_PYTHON}] {check} "
        assert any(ln.startswith(prefix) and " ok " in ln for ln in lines), check
    assert any("tiny 1.2.3" in ln for ln in lines)
    assert any(ln.startswith("[deps] deps") and " ok " in ln for ln in lines)
    assert sum(ln.startswith(ONE_PYTHON) for ln in lines) == 1  # one table row, one Python
    assert (root / ".nox" / "smoke-envs" / ONE_PYTHON).is_dir()


@pytest.mark.slow
def test_smoke_without_a_restriction_proves_every_python_found_at_once(tmp_path: Path) -> None:
    # The README's main job: every Python 3.11+ found, smoked concurrently in one run.
    root = make_project(tmp_path)
    build_distributions(load_config(root), quiet=True)
    found = [p.version for p in find_pythons()]
    done = run_tool(root, "tooling.smoke", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for version in found:
        short = ".".join(version.split(".")[:2])
        for check in ("venv", "install", "wheel", "imports", "entry-points", "version"):
            prefix = f"[{short}] {check} "
            assert any(ln.startswith(prefix) and " ok " in ln for ln in lines), (short, check)
        assert any(ln.startswith(version) for ln in lines), version  # its table row


@pytest.mark.slow
def test_rebuilt_wheel_at_an_unchanged_version_is_the_one_smoked(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = load_config(root)
    first_build = build_distributions(config, quiet=True)
    first = smoke(root)
    assert first.ok, first.failures
    (root / "ws" / "helpers.py").write_text(
        '"""Greetings."""\n\n\ndef greet(name: str) -> str:\n    """Say howdy."""\n'
        '    return f"howdy {name}"\n',
        encoding="utf-8",
    )
    second_build = build_distributions(config, quiet=True)
    assert second_build.wheel.path.name == first_build.wheel.path.name
    assert second_build.wheel.sha256 != first_build.wheel.sha256
    second = smoke(root)
    assert second.ok, second.failures
    assert second.wheel_sha256 == second_build.wheel.sha256
    by_name = checks(second)
    assert by_name["venv"].detail.startswith("reused")
    assert second_build.wheel.sha256[:16] in by_name["wheel"].detail
    (installed,) = (root / ".nox" / "smoke-envs").glob("*/lib/python*/site-packages/tiny_runtime")
    assert "howdy" in (installed / "helpers.py").read_text(encoding="utf-8")


@pytest.mark.slow
def test_smoke_lists_every_module_that_fails_to_import(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    dist = broken_wheel(root, {
        "broken_a.py": "import not_installed_anywhere_xyz\n",
        "tools/broken_b.py": "raise RuntimeError('boom at import')\n",
    })
    report = smoke(root, dist)
    assert not report.ok
    imports = checks(report)["imports"]
    assert not imports.ok
    assert any(f.startswith("tiny_runtime.broken_a: ModuleNotFoundError") for f in imports.failures)
    assert "tiny_runtime.tools.broken_b: RuntimeError: boom at import" in imports.failures
    assert report.deps is not None
    assert not report.deps.ok
    assert any(
        "tiny_runtime/broken_a.py:1:" in f and "not_installed_anywhere_xyz" in f
        for f in report.deps.failures
    )


@pytest.mark.slow
def test_smoke_catches_an_entry_point_whose_function_was_removed(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    dist = broken_wheel(root, {"cli.py": '"""The command line, its main() removed."""\n'})
    report = smoke(root, dist)
    by_name = checks(report)
    assert not by_name["entry-points"].ok
    assert "console_scripts tiny = tiny_runtime.cli:main: AttributeError" in (
        by_name["entry-points"].failures[0]
    )
    assert not by_name["version"].ok


@pytest.mark.slow
def test_smoke_catches_a_module_missing_from_the_wheel_but_imported(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    dist = broken_wheel(root, {"helpers.py": None})
    report = smoke(root, dist)
    imports = checks(report)["imports"]
    assert not imports.ok
    assert any("No module named 'tiny_runtime.helpers'" in f for f in imports.failures)
    assert any(f.startswith("tiny_runtime.cli:") for f in imports.failures)


@pytest.mark.slow
def test_smoke_command_fails_with_one_error_line_per_failure(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    dist = broken_wheel(root, {"broken.py": "import not_installed_anywhere_xyz\n"})
    done = run_tool(root, "tooling.smoke", "--python", ONE_PYTHON, "--dist", str(dist), "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["ok"] is False
    expected = f"[{ONE_PYTHON}] imports: tiny_runtime.broken"
    assert any(f.startswith(expected) for f in data["failures"])


@pytest.mark.slow
@pytest.mark.index
def test_workspace_tests_run_rewritten_against_the_installed_wheel(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, "workspace-tests = false", "workspace-tests = true")
    build_distributions(load_config(root), quiet=True)
    report = smoke(root)
    tests = checks(report)["tests"]
    assert tests.ok, tests.detail
    assert tests.detail == (
        "wheel: 3 passed; source: 3 passed; 0 only failing against the wheel, 0 failing in both"
    )


def make_wheel(tmp_path: Path, files: dict[str, str], *, version: str = "1.0.0") -> Path:
    root = tmp_path / "proj"
    helpers.write_files(root, {
        "pyproject.toml": (
            '[build-system]\nrequires = ["flit_core>=3.11,<5"]\n'
            'build-backend = "flit_core.buildapi"\n'
            f'[project]\nname = "depcheck"\nversion = "{version}"\ndescription = "x"\n'
            '[tool.flit.module]\nname = "depcheck"\n'
        ),
        **files,
    })
    return build_project(root, tmp_path / "dist", "wheel", epoch=315532800)


@pytest.mark.slow
def test_deps_check_names_undeclared_imports_and_unused_dependencies(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, {
        "depcheck/__init__.py": '"""Pkg."""\nimport json\nimport yaml\n\n\ndef f():\n'
                                '    import undeclared_thing\n',
    })
    result = check_deps(
        wheel, "depcheck", "depcheck", ["PyYAML>=6", "never-imported>=1"],
        module_map={"PyYAML": ("yaml",)}, scratch=tmp_path / "scratch",
    )
    assert not result.ok
    assert any(
        f.startswith("depcheck/__init__.py:7:") and "'undeclared_thing'" in f
        for f in result.failures
    )
    assert any("'never-imported' defined as a dependency but not used" in f
               for f in result.failures)
    assert not any("yaml" in f.lower() for f in result.failures)


def test_find_pythons_skips_interpreters_that_do_not_run(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3.99"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    real = shutil.which("python3.11") or sys.executable
    env = {"PATH": f"{bin_dir}{os.pathsep}{Path(real).parent}", "HOME": str(tmp_path)}
    found = find_pythons(env=env)
    assert "3.99" not in {p.minor for p in found}
    with pytest.raises(ToolingError, match=r"'3\.99'.*no working CPython"):
        find_pythons(["3.99"], env=env)


def test_find_pythons_dedupes_by_version_and_honours_paths() -> None:
    found = find_pythons()
    assert len({p.minor for p in found}) == len(found)
    assert all(tuple(map(int, p.minor.split("."))) >= (3, 11) for p in found)
    (only,) = find_pythons([str(found[0].executable)])
    assert only.version == found[0].version


@pytest.mark.slow
@pytest.mark.index
def test_end_to_end_build_and_smoke_of_the_bundled_runtime(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(
        helpers.REPO_ROOT, copy,
        ignore=outputs_ignored(helpers.REPO_ROOT),
    )
    helpers.git(copy, "init", "-q", "-b", "main")
    helpers.git(copy, "add", "-A")
    helpers.git(copy, "commit", "-q", "-m", "chore: snapshot")
    built = run_tool(copy, "tooling.build")
    assert built.returncode == 0, built.stderr
    smoked = subprocess.run(
        [sys.executable, "-m", "tooling.smoke", "--python", ONE_PYTHON],
        cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert smoked.returncode == 0, smoked.stdout + smoked.stderr
    version = load_config(copy).version
    assert f"molecule-runtime {version}" in smoked.stdout
    assert "echo over A2A" in smoked.stdout
    assert " passed" in smoked.stdout


@pytest.mark.slow
def test_deps_check_accepts_declared_optional_imports_and_names_the_rest(
    tmp_path: Path,
) -> None:
    wheel = make_wheel(tmp_path, {
        "depcheck/__init__.py": (
            '"""Pkg."""\nfrom typing import TYPE_CHECKING\n\ntry:\n    import orjson\n'
            "except ImportError:\n    orjson = None\ntry:\n    import ujson\n"
            "except ModuleNotFoundError:\n    ujson = None\ntry:\n    import simdjson\n"
            "except ImportError:\n    simdjson = None\nif TYPE_CHECKING:\n    import rapidjson\n"
            "import undeclared_thing\n"
        ),
    })
    result = check_deps(
        wheel, "depcheck", "depcheck", [], module_map={}, scratch=tmp_path / "scratch",
        optional=["orjson"], optional_imports=["ujson", "rapidjson"],
    )
    assert not result.ok
    assert [f.split(": ", 1)[0] for f in result.failures] == [
        "depcheck/__init__.py:13:12", "depcheck/__init__.py:18:8",
    ]
    assert result.failures[0].endswith(
        "DEP001 optional import 'simdjson' (guarded) is in no extra: declare it in "
        "[project.optional-dependencies] or list it in [tool.runtime-build.smoke] "
        "optional-imports"
    )
    assert "'undeclared_thing' imported but missing" in result.failures[1]
