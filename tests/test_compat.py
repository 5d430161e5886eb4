"""compat.json: read from the staged package, stable, and checked against consumers' needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import pytest
from helpers import FIXTURES, REPO_ROOT, chdir, write_files

from tooling.api.compat import build_compat, main, read_compat, write_compat
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release.commands import run_compat
from tooling.rewrite import rewrite_tree

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.config import Config


def _project(tmp_path: Path, files: dict[str, str | bytes] | None = None) -> Config:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "compat", root)
    write_files(root, files or {})
    return load_config(root)


def _stage(config: Config, out: Path) -> Path:
    rewrite_tree(config.source, config.package, out, exclude=config.exclude)
    return out / config.package


def test_compat_json_carries_versions_read_from_the_source(tmp_path: Path) -> None:
    config = _project(tmp_path)
    data = build_compat(config, _stage(config, tmp_path / "stage"))
    assert data["runtime_version"] == "2.1.0"
    assert data["requires_python"] == ">=3.11"
    assert data["distribution"] == "tiny-runtime"
    assert data["package"] == "tinyrt"
    # adapters/base.py, and a plugins_registry submodule: found by searching, not by path.
    assert data["adapter_protocol_version"] == 2
    assert data["plugin_api_version"] == "1.3"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", str(data["api_fingerprint"]))


def test_compat_json_lists_the_declared_stable_imports(tmp_path: Path) -> None:
    config = _project(tmp_path)
    assert build_compat(config, _stage(config, tmp_path / "none"))["stable_imports"] == []
    entries = ["tinyrt.adapters:BaseAdapter", "tinyrt.adapters.base:BaseAdapter"]
    table = f"stable-imports = {json.dumps(entries)}\n"
    header = "[tool.runtime-build]\n"
    text = config.pyproject.read_text().replace(header, header + table)
    config.pyproject.write_text(text)
    config = load_config(config.root)
    data = build_compat(config, _stage(config, tmp_path / "stage"))
    assert data["stable_imports"] == sorted(entries)


def test_write_compat_is_deterministic_across_two_builds(tmp_path: Path) -> None:
    config = _project(tmp_path)
    first = write_compat(config, _stage(config, tmp_path / "one"))
    second = write_compat(config, _stage(config, tmp_path / "two"))
    assert first == tmp_path / "one" / "tinyrt" / "compat.json"
    text = first.read_text(encoding="utf-8")
    assert text == second.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert list(json.loads(text)) == sorted(json.loads(text))


@pytest.mark.parametrize(
    ("files", "same"),
    [
        ({"src/adapters/base.py": "ADAPTER_PROTOCOL_VERSION = 2\n\n\nclass BaseAdapter:\n"
          "    protocol_version = ADAPTER_PROTOCOL_VERSION\n\n"
          "    def handle_task(self, request, *, context=None):\n"
          '        """Answer one task, differently documented."""\n        return None\n'},
         True),
        ({"src/__init__.py": '"""Docs."""\n\n__version__ = "9.9.9"\n'}, True),
        ({"src/extra.py": "def new_function():\n    return 1\n"}, False),
        ({"src/plugins_registry/__init__.py": (
            "from plugins_registry.version import PLUGIN_API_VERSION\n\n"
            '__all__ = ["PLUGIN_API_VERSION", "discover"]\n\n\n'
            "def discover(path, *, strict=False):\n    return []\n")}, False),
    ],
    ids=["body-and-docstring", "version-bump", "new-module", "new-parameter"],
)
def test_fingerprint_changes_exactly_when_the_api_changes(
    tmp_path: Path, files: dict[str, str | bytes], same: bool
) -> None:
    base = _project(tmp_path / "a")
    changed = _project(tmp_path / "b", files)
    before = build_compat(base, _stage(base, tmp_path / "a" / "stage"))["api_fingerprint"]
    after = build_compat(changed, _stage(changed, tmp_path / "b" / "stage"))["api_fingerprint"]
    assert (before == after) is same


def test_missing_constant_fails_naming_it(tmp_path: Path) -> None:
    config = _project(tmp_path, {"src/plugins_registry/version.py": "OTHER = 1\n"})
    with pytest.raises(ToolingError, match=r"no module-level `PLUGIN_API_VERSION = <literal>`"):
        build_compat(config, _stage(config, tmp_path / "stage"))


def test_constants_are_configurable_and_optional(tmp_path: Path) -> None:
    extra = (
        "\n[tool.runtime-build.compat]\nrequired = false\n"
        'constants = { wire_version = "ADAPTER_PROTOCOL_VERSION", plugin_api_version = "NOPE" }\n'
    )
    config = _project(tmp_path)
    config.pyproject.write_text(config.pyproject.read_text() + extra)
    config = load_config(config.root)  # the configuration is read once, like a real run
    data = build_compat(config, _stage(config, tmp_path / "stage"))
    assert data["wire_version"] == 2
    assert data["plugin_api_version"] is None
    assert "adapter_protocol_version" not in data


def test_two_different_definitions_fail_naming_both(tmp_path: Path) -> None:
    config = _project(tmp_path, {"src/legacy.py": "ADAPTER_PROTOCOL_VERSION = 1\n"})
    with pytest.raises(ToolingError, match=r"legacy\.py:1: ADAPTER_PROTOCOL_VERSION = 1 disagrees"):
        build_compat(config, _stage(config, tmp_path / "stage"))


def test_bundled_runtime_declares_both_protocol_versions(tmp_path: Path) -> None:
    config = load_config(REPO_ROOT)
    data = build_compat(config, _stage(config, tmp_path / "stage"))
    # Read independently of the tooling: the literal as written in the workspace source.
    base = (config.source / "adapters" / "base.py").read_text(encoding="utf-8")
    expected = re.search(r"^ADAPTER_PROTOCOL_VERSION = (\d+)$", base, re.MULTILINE)
    assert expected is not None
    assert data["adapter_protocol_version"] == int(expected.group(1))
    assert data["plugin_api_version"] is not None
    assert data["runtime_version"] == config.version


# --- checking a consumer's needs -------------------------------------------------------------

COMPAT = {
    "compat_format": 1,
    "runtime_version": "2.1.0",
    "requires_python": ">=3.11",
    "adapter_protocol_version": 2,
    "plugin_api_version": "1.3",
    "api_fingerprint": "sha256:" + "ab" * 32,
}


@pytest.fixture
def compat_file(tmp_path: Path) -> Path:
    path = tmp_path / "compat.json"
    path.write_text(json.dumps(COMPAT), encoding="utf-8")
    return path


def test_consumer_needs_met_exit_0_with_a_table(
    tmp_path: Path, compat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer = tmp_path / "consumer"
    write_files(consumer, {"runtime-needs.toml": (
        'runtime = ">=2.0,<3"\nadapter-protocol = ">=2,<3"\nplugin-api = "~=1.1"\npython = "3.12"\n'
    )})
    assert main(["--check", str(consumer), "--compat", str(compat_file)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^adapter-protocol +>=2,<3 +2 +yes$", out, re.MULTILINE)
    assert re.search(r"^plugin-api +~=1.1 +1.3 +yes$", out, re.MULTILINE)
    assert re.search(r"^python +3.12 +>=3.11 +yes$", out, re.MULTILINE)


def test_consumer_needs_unmet_exit_1_naming_them(
    tmp_path: Path, compat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer = tmp_path / "consumer"
    write_files(consumer, {"pyproject.toml": (
        '[project]\nname = "template"\n\n[tool.runtime]\n'
        'adapter-protocol = ">=3"\nplugin-api = "~=1.1"\n'
    )})
    assert main(["--check", str(consumer), "--compat", str(compat_file), "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["satisfied"] is False
    assert {n["need"]: n["satisfied"] for n in report["needs"]} == {
        "adapter-protocol": False, "plugin-api": True,
    }
    assert "runtime 2.1.0 does not satisfy: adapter-protocol" in captured.err


def test_unknown_need_is_refused_listing_the_known_ones(
    tmp_path: Path, compat_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs = tmp_path / "runtime-needs.toml"
    needs.write_text('adaptr-protocol = ">=2"\n', encoding="utf-8")
    assert main(["--check", str(needs), "--compat", str(compat_file)]) == 1
    err = capsys.readouterr().err
    assert "unknown key `adaptr-protocol`; did you mean `adapter-protocol`?" in err
    assert "adapter-protocol" in err


def test_compat_is_read_from_inside_a_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "tiny_runtime-2.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("tinyrt/__init__.py", "")
        zf.writestr("tinyrt/compat.json", json.dumps(COMPAT))
    assert read_compat(wheel)["plugin_api_version"] == "1.3"


def test_invoke_compat_checks_the_current_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _project(tmp_path)
    write_files(tmp_path / "consumer", {"runtime-needs.toml": 'plugin-api = ">=2"\n'})
    with chdir(config.root):
        assert run_compat(check=str(tmp_path / "consumer"), json_output=False) == 1
    out = capsys.readouterr().out
    assert re.search(r"^plugin-api +>=2 +1.3 +NO$", out, re.MULTILINE)


def test_compat_command_prints_the_current_trees_compat_json(tmp_path: Path) -> None:
    config = _project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "tooling.api.compat", "--json", "--root", str(config.root)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["adapter_protocol_version"] == 2
    assert data["runtime_version"] == "2.1.0"
