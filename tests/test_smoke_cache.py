"""The smoke cache: an unchanged rerun reports cached passes; any changed input proves again."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

import helpers
import pytest
from test_smoke import ONE_PYTHON, broken_wheel, checks, make_wheel, smoke
from test_stage import make_project, run_tool, set_in_pyproject

from tooling.build.dists import build_distributions
from tooling.config import load_config
from tooling.smoke.cache import CACHED_DETAIL, installed_distributions
from tooling.smoke.checks import find_uv, venv_python
from tooling.smoke.pythons import find_pythons
from tooling.smoke.run import run_smoke

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.smoke.report import SmokeReport

# The checks a cached pass covers; venv, install and the installed-files check always run.
CACHEABLE = ("imports", "entry-points", "version", "tests")


def cached_names(report: SmokeReport) -> set[str]:
    return {name for name, check in checks(report).items() if check.cached}


def install_into_smoke_venv(root: Path, wheel: Path) -> None:
    venv = root / ".nox" / "smoke-envs" / ONE_PYTHON
    uv = find_uv()
    assert uv is not None
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv_python(venv)), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )


@pytest.mark.slow
@pytest.mark.index
def test_unchanged_rerun_is_cached_and_each_changed_input_proves_again(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    set_in_pyproject(root, "workspace-tests = false", "workspace-tests = true")
    build_distributions(load_config(root), quiet=True)
    first = smoke(root)
    assert first.ok, first.failures
    assert cached_names(first) == set()
    assert checks(first)["tests"].detail.startswith("wheel: 3 passed; source: 3 passed;")

    rerun = run_tool(root, "tooling.smoke", "--python", ONE_PYTHON)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    lines = rerun.stdout.splitlines()
    for name in CACHEABLE:
        assert any(
            ln.startswith(f"[{ONE_PYTHON}] {name} ") and CACHED_DETAIL in ln for ln in lines
        ), name
    assert any(ln.startswith(f"[{ONE_PYTHON}] wheel ") and "hashed on disk" in ln for ln in lines)
    assert any(ln.startswith("[deps] deps") and "cached" in ln for ln in lines)

    forced = run_tool(root, "tooling.smoke", "--python", ONE_PYTHON, "--no-cache", "--json")
    assert forced.returncode == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["cached"] == 0
    assert not any(c["cached"] for c in data["pythons"][0]["checks"])
    assert data["deps"]["cached"] is False
    as_json = json.loads(run_tool(root, "tooling.smoke", "--python", ONE_PYTHON, "--json").stdout)
    by_name = {c["name"]: c for c in as_json["pythons"][0]["checks"]}
    assert all(by_name[name]["cached"] for name in CACHEABLE)
    assert all(by_name[name]["seconds"] == 0 for name in CACHEABLE)  # nothing ran for them
    assert by_name["tests"]["detail"] == CACHED_DETAIL
    assert not any(by_name[name]["cached"] for name in ("venv", "install", "wheel"))

    test_file = root / "ws" / "tests" / "test_more.py"
    test_file.write_text("def test_one_more() -> None:\n    assert True\n", encoding="utf-8")
    after_test_edit = smoke(root)
    assert after_test_edit.ok, after_test_edit.failures
    assert cached_names(after_test_edit) == set()
    assert checks(after_test_edit)["tests"].detail.startswith("wheel: 4 passed; source: 4 passed;")
    assert cached_names(smoke(root)) == set(CACHEABLE)

    install_into_smoke_venv(root, make_wheel(tmp_path / "v1", {"depcheck/__init__.py": ""}))
    assert cached_names(smoke(root)) == set()
    assert cached_names(smoke(root)) == set(CACHEABLE)
    v2 = make_wheel(tmp_path / "v2", {"depcheck/__init__.py": ""}, version="2.0.0")
    install_into_smoke_venv(root, v2)
    assert cached_names(smoke(root)) == set()


@pytest.mark.slow
def test_a_rebuilt_wheel_is_smoked_for_real_and_failures_are_never_cached(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = load_config(root)
    build_distributions(config, quiet=True)
    assert smoke(root).ok
    assert cached_names(smoke(root)) == {"imports", "entry-points", "version"}
    (root / "ws" / "helpers.py").write_text(
        '"""Greetings."""\n\n\ndef greet(name: str) -> str:\n    """Say hi."""\n'
        '    return f"hi {name}"\n',
        encoding="utf-8",
    )
    build_distributions(config, quiet=True)
    rebuilt = smoke(root)
    assert rebuilt.ok
    assert cached_names(rebuilt) == set()

    dist = broken_wheel(root, {"broken.py": "raise RuntimeError('boom at import')\n"})
    for _ in range(2):
        report = run_smoke(config, dist, find_pythons([ONE_PYTHON]))
        imports = checks(report)["imports"]
        assert not imports.ok
        assert not imports.cached
        assert "tiny_runtime.broken: RuntimeError: boom at import" in imports.failures


def test_installed_distributions_read_names_versions_and_pth_files(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    helpers.write_files(site, {
        "PyYAML-6.0.3.dist-info/METADATA": "",
        "idna-3.20.dist-info/METADATA": "",
        "idna/__init__.py": "",
        "extra.pth": "/somewhere\n",
    })
    first = installed_distributions(site)
    assert first[1:] == ("idna==3.20", "pyyaml==6.0.3")
    assert first[0].startswith("extra.pth:")
    (site / "idna-3.20.dist-info").rename(site / "idna-3.21.dist-info")
    assert "idna==3.21" in installed_distributions(site)
    (site / "extra.pth").write_text("/elsewhere\n", encoding="utf-8")
    assert installed_distributions(site)[0] != first[0]
