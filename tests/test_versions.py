"""``invoke versions``: every place a version lives, and the disagreements among ours."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.build.metadata import read_built, read_dunder_version
from tooling.release.commands import run_versions
from tooling.release.survey import collect_versions, main

if TYPE_CHECKING:
    from pathlib import Path

    from helpers import PackageIndex

    from tooling.release.survey import VersionSource, VersionsReport

DIST = "molecule-ai-workspace-runtime"
# The shape tooling/build/stage.py appends to the staged __init__.py.
METADATA_INIT = '''"""The runtime."""
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _distribution_version

try:
    __version__ = _distribution_version("molecule-ai-workspace-runtime")
except _PackageNotFoundError:
    __version__ = "0+unknown"
'''
PYPROJECT = (
    f'[project]\nname = "{DIST}"\nversion = "{{version}}"\n\n'
    '[tool.runtime-build]\npackage = "molecule_runtime"\ntag-prefix = "runtime-v"\n'
)


def make_wheel(
    dist: Path, version: str, *, metadata_version: str | None = None, init: str = METADATA_INIT
) -> Path:
    """A minimal but well-formed wheel, written by hand."""
    dist.mkdir(parents=True, exist_ok=True)
    path = dist / f"molecule_ai_workspace_runtime-{version}-py3-none-any.whl"
    info = f"molecule_ai_workspace_runtime-{version}.dist-info"
    meta = f"Metadata-Version: 2.4\nName: {DIST}\nVersion: {metadata_version or version}\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("molecule_runtime/__init__.py", init)
        archive.writestr(f"{info}/METADATA", meta)
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        archive.writestr(f"{info}/RECORD", "")
    return path


def make_sdist(dist: Path, version: str, *, pkg_info_version: str | None = None) -> Path:
    dist.mkdir(parents=True, exist_ok=True)
    path = dist / f"molecule_ai_workspace_runtime-{version}.tar.gz"
    data = f"Metadata-Version: 2.4\nName: {DIST}\nVersion: {pkg_info_version or version}\n"
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo(f"molecule_ai_workspace_runtime-{version}/PKG-INFO")
        member.size = len(data.encode())
        archive.addfile(member, io.BytesIO(data.encode()))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project at 0.3.0, tagged runtime-v0.3.0, with a matching wheel and sdist in dist/."""
    root = helpers.init_repo(tmp_path / "proj", files={
        "pyproject.toml": PYPROJECT.format(version="0.3.0"),
    })  # fmt: skip
    helpers.git(root, "tag", "runtime-v0.3.0")
    make_wheel(root / "dist", "0.3.0")
    make_sdist(root / "dist", "0.3.0")
    return root


def by_place(report: VersionsReport) -> dict[str, VersionSource]:
    return {s.place: s for s in report.sources}


def test_agreeing_sources_pass_and_every_place_is_listed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = collect_versions(project)
    assert report.ok, report.problems
    places = by_place(report)
    assert places["[project] version"].version == "0.3.0"
    assert places["last release tag"].where == "runtime-v0.3.0"
    assert places["wheel METADATA"].version == "0.3.0"
    assert places["sdist PKG-INFO"].version == "0.3.0"
    dunder = places["molecule_runtime.__version__"]
    assert (dunder.version, dunder.status) == ("0.3.0", "ok")
    assert dunder.detail == "importlib.metadata.version('molecule-ai-workspace-runtime')"
    assert places["index latest"].status == "not configured"
    assert main(["--root", str(project), "--no-consumers"]) == 0
    out = capsys.readouterr().out
    assert "our sources agree" in out
    assert out.splitlines()[0].split() == ["place", "version", "status", "detail", "where"]


def test_a_stale_wheel_is_a_disagreement_naming_the_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_wheel(project / "dist", "0.2.0")
    assert main(["--root", str(project), "--no-consumers"]) == 1
    captured = capsys.readouterr()
    assert ("dist/molecule_ai_workspace_runtime-0.2.0-py3-none-any.whl: METADATA says 0.2.0 "
            "but pyproject.toml says 0.3.0") in captured.out  # fmt: skip
    assert "error: 1 disagreement(s)" in captured.err


def test_wheel_metadata_that_differs_from_its_file_name_is_caught(project: Path) -> None:
    shutil.rmtree(project / "dist")
    make_wheel(project / "dist", "0.3.0", metadata_version="0.3.1")
    report = collect_versions(project)
    assert not report.ok
    assert "METADATA says 0.3.1 but pyproject.toml says 0.3.0" in report.problems[0]


def test_a_hard_coded_dunder_version_that_differs_is_caught(project: Path) -> None:
    shutil.rmtree(project / "dist")
    make_wheel(project / "dist", "0.3.0", init='__version__ = "0.1.0"\n')
    report = collect_versions(project)
    dunder = by_place(report)["molecule_runtime.__version__"]
    assert (dunder.version, dunder.status) == ("0.1.0", "differs")
    assert report.problems == (
        (
            "dist/molecule_ai_workspace_runtime-0.3.0-py3-none-any.whl: __version__ is hard-coded "
            "'0.1.0' but the wheel's METADATA says '0.3.0'; read it from importlib.metadata instead"
        ),
    )


def test_pyproject_ahead_of_the_last_tag_is_caught(project: Path) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT.format(version="0.4.0"))
    shutil.rmtree(project / "dist")
    report = collect_versions(project)
    assert report.problems == (
        (
            "pyproject.toml [project] version is 0.4.0 but the last release tag is runtime-v0.3.0; "
            "finish the release (invoke tag) or set the version back to the tagged one"
        ),
    )


def test_a_stale_sdist_is_caught(project: Path) -> None:
    make_sdist(project / "dist", "0.3.0", pkg_info_version="0.2.9")
    report = collect_versions(project)
    assert any("PKG-INFO says 0.2.9" in p for p in report.problems)


def test_an_invalid_pyproject_version_is_reported_not_crashed_on(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT.format(version="v0.3.0"))
    assert main(["--root", str(project), "--no-consumers", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["version"] is None
    assert "'v0.3.0' is not a release version" in data["problems"][0]


def test_no_built_wheel_is_reported_but_not_a_disagreement(project: Path) -> None:
    shutil.rmtree(project / "dist")
    report = collect_versions(project)
    assert report.ok
    assert by_place(report)["wheel METADATA"].detail == "no built wheel; run nox -s build"


@pytest.mark.parametrize(
    ("init", "value", "problem"),
    [
        (METADATA_INIT, "1.0.0", None),
        (("import importlib.metadata\n__version__ = importlib.metadata.version('molecule_ai-"
          "workspace.runtime')\n"), "1.0.0", None),
        ("from importlib import metadata as md\n__version__ = md.version('other')\n", None,
         "reads the version of 'other'"),
        ("__version__ = '1.0.0'\n", "1.0.0", None),
        ("x = 1\n", None, "sets no __version__"),
        ("__version__ = get()\n", None, "cannot be read without running it"),
        ("def (:\n", None, "does not parse"),
    ],
)  # fmt: skip
def test_dunder_version_is_resolved_without_running_the_package(
    init: str, value: str | None, problem: str | None
) -> None:
    found = read_dunder_version(init.encode(), DIST, "1.0.0")
    assert found.value == value
    if problem is None:
        assert found.problem is None
    else:
        assert found.problem is not None
        assert problem in found.problem


def test_an_unreadable_wheel_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "molecule_ai_workspace_runtime-1.0.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    assert read_built(bad, "molecule_runtime").error


def make_consumer(path: Path, pin: str) -> Path:
    return helpers.init_repo(path, files={".runtime-version": pin})


def test_consumer_pins_are_read_and_compared_but_do_not_fail_the_report(
    project: Path, tmp_path: Path
) -> None:
    current = make_consumer(tmp_path / "c1", "0.3.0\n")
    lagging = make_consumer(tmp_path / "c2", "0.2.0\n")
    broken = make_consumer(tmp_path / "c3", "0.1.1000\n# bumped by hand\n")
    (project / "consumers.toml").write_text(
        f'[[consumer]]\nname = "current"\nurl = "file://{current}"\n\n'
        f'[[consumer]]\nname = "lagging"\nurl = "{lagging}"\nexempt = true\n\n'
        f'[[consumer]]\nname = "broken"\nurl = "file://{broken}"\n\n'
        '[[consumer]]\nname = "remote"\nurl = "https://git.example.invalid/o/r.git"\n'
    )
    report = collect_versions(project, consumers=project / "consumers.toml")
    assert report.ok
    places = by_place(report)
    assert (places["consumer current"].version, places["consumer current"].status) == (
        "0.3.0", "current")  # fmt: skip
    assert places["consumer lagging (exempt)"].status == "lags"
    assert places["consumer broken"].status == "invalid"
    assert "more than one line" in places["consumer broken"].detail
    assert places["consumer remote"].status == "not read"
    assert places["consumer remote"].detail == "no CASCADE_TOKEN for this remote"


def test_the_index_latest_release_is_shown(project: Path, fresh_index: PackageIndex) -> None:
    for version in ("0.2.0", "0.3.0", "0.4.0rc1"):
        make_wheel(fresh_index.packages, version)
    report = collect_versions(project, index_url=fresh_index.simple_url)
    row = by_place(report)["index latest"]
    assert (row.version, row.status) == ("0.3.0", "ok")
    assert "newest pre-release 0.4.0rc1" in row.detail


def test_an_unreachable_index_is_reported_without_failing(project: Path) -> None:
    url = f"http://127.0.0.1:{helpers.free_port()}/simple/"
    report = collect_versions(project, index_url=url)
    assert report.ok
    assert by_place(report)["index latest"].status == "unreachable"


def test_invoke_versions_runs_the_report_from_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    assert run_versions(json_output=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {"place", "where", "version", "status", "detail"} == set(data["sources"][0])


def test_the_module_runs_as_a_command(project: Path) -> None:
    make_wheel(project / "dist", "0.2.0")
    done = subprocess.run(
        [sys.executable, "-m", "tooling.release.survey", "--root", str(project), "--no-consumers"],
        capture_output=True, text=True, check=False, cwd=helpers.REPO_ROOT,
        env={**os.environ, "GITHUB_ACTIONS": "true"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "::error file=pyproject.toml,title=versions disagree::dist/" in done.stdout
