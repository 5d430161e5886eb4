"""`python -m tooling.doctor`: every finding on a real-looking tree, each with its exact fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.config import load_config
from tooling.doctor import FindingKind, diagnose
from tooling.doctor.findings import (
    excluded_imports,
    ignore_findings,
    non_identifier_folders,
    optional_import_findings,
    shipped_test_files,
)

if TYPE_CHECKING:
    from pathlib import Path


def doctor(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(helpers.REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tooling.doctor", *args], cwd=root, env=env,
        capture_output=True, text=True, check=False, timeout=120,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_doctor_on_the_adopted_realistic_tree_lists_what_is_left(tmp_path: Path) -> None:
    root = helpers.copy_fixture("realtree", tmp_path / "rt")
    done = doctor(root, "--json")
    assert done.returncode == 1, done.stderr
    found = [(f["kind"], f["where"], f["fix"]) for f in json.loads(done.stdout)["findings"]]
    assert found == [
        ("source-by-path", "runtime/tests/conftest.py:9",
         ("nothing for the smoke (it runs the tests beside the installed, rewritten files); on "
         "any layout `import a2a_cli` (which the rewriter turns into real_runtime.a2a_cli) "
         "needs no path")),
        ("source-by-path", "runtime/tests/test_logger.py:5",
         ("nothing for the smoke (it runs the tests beside the installed, rewritten files); on "
         "any layout `import logger` (which the rewriter turns into real_runtime.logger) "
         "needs no path")),
        ("outputs-not-ignored", ".gitignore", "add these lines to .gitignore: .release/"),
    ]


def test_doctor_finds_every_setting_a_fresh_adoption_lacks(tmp_path: Path) -> None:
    root = helpers.copy_fixture("realtree", tmp_path / "rt")
    pyproject = root / "pyproject.toml"
    edit(pyproject, 'compat-aliases = ["plugins_registry"]', "")
    edit(pyproject, 'env = { WORKSPACE_ID = "smoke-ws", PLATFORM_API_TOKEN = '
                    '"PLATFORM-TOKEN-PLACEHOLDER" }', "")
    edit(pyproject, 'optional-imports = ["ujson"]', "")
    edit(pyproject, 'readme = "README.md"\n', "")
    (root / "runtime" / "tests" / "__init__.py").unlink()
    (root / ".gitignore").write_text("build/\ndist/\n.nox/\n.release/\n")
    found = {(f.kind, f.where): f for f in diagnose(load_config(root))}
    assert [k.value for k, _ in found] == [
        "shadowed-name", "source-by-path", "source-by-path", "string-template",
        "optional-import", "import-needs-env", "missing-readme",
    ]
    shadow = found[FindingKind.SHADOWED_NAME, "runtime/tests/adapters"]
    assert shadow.fix == ("add an empty runtime/tests/__init__.py (the tests become a package "
                          "and shadow nothing) or rename runtime/tests/adapters")
    template = found[FindingKind.STRING_TEMPLATE, "runtime/tests/test_plugins.py:6"]
    assert template.fix == 'compat-aliases = ["plugins_registry"] in [tool.runtime-build]'
    optional = found[FindingKind.OPTIONAL_IMPORT, "runtime/optional_feature.py:11"]
    assert optional.fix == ('declare it in [project.optional-dependencies] (e.g. extra = '
                            '["ujson"]) or add "ujson" to [tool.runtime-build.smoke] '
                            "optional-imports")
    env = found[FindingKind.IMPORT_NEEDS_ENV, "runtime/config.py"]
    assert "WORKSPACE_ID" in env.what
    assert env.fix.startswith('[tool.runtime-build.smoke] env = { WORKSPACE_ID = "..." }')
    readme = found[FindingKind.MISSING_README, "pyproject.toml"]
    assert readme.fix == 'readme = "README.md" in [project] (a file beside pyproject.toml)'


def test_doctor_exits_0_when_clean_and_2_when_it_cannot_read_the_tree(tmp_path: Path) -> None:
    assert doctor(helpers.REPO_ROOT).returncode == 0
    (tmp_path / "pyproject.toml").write_text("[project\n")
    done = doctor(tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'pyproject.toml'}: invalid TOML")


def test_findings_on_shipped_files_name_their_fix() -> None:
    shipped = {"ok.py": b"import lib.pre_stop\n", "my-plugin/x.py": b"", "tools/test_x.py": b""}
    (folder,) = non_identifier_folders(shipped, "ws")
    assert (folder.where, folder.fix) == (
        "ws/my-plugin", 'rename it to my_plugin or add "my-plugin" to [tool.runtime-build] exclude'
    )
    (test_file,) = shipped_test_files(shipped, "ws")
    assert test_file.fix == 'add "test_*.py" (or "tools/test_x.py") to [tool.runtime-build] exclude'
    (imported,) = excluded_imports(shipped, ["lib/pre_stop.py"], "ws")
    assert imported.where == "ws/ok.py:1"
    assert imported.fix.startswith('ship it (drop the pattern matching "lib/pre_stop.py"')


@pytest.mark.parametrize(
    ("gitignore", "missing"),
    [(None, "build/ dist/ .nox/ .release/"), ("/build/\ndist\n.nox/*\n", ".release/"),
     ("build/\ndist/\n.nox/\n.release/\n", None)],
)
def test_build_outputs_must_be_ignored(gitignore: str | None, missing: str | None) -> None:
    found = ignore_findings(gitignore)
    assert [f.fix for f in found] == (
        [f"add these lines to .gitignore: {missing}"] if missing else []
    )


def test_declared_and_listed_optional_imports_are_fine() -> None:
    guarded = [("a.py", 1, "orjson"), ("a.py", 2, "yaml"), ("a.py", 3, "json"),
               ("a.py", 4, "ujson"), ("a.py", 5, "adapters")]
    found = optional_import_findings(
        guarded, workspace=frozenset({"adapters"}), package="pkg", declared=["orjson"],
        optional_imports=["ujson"], module_dists={"yaml": ["PyYAML"]},
    )
    assert [f.where for f in found] == ["a.py:2"]
