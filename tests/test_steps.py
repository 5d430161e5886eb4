"""Release steps that decide or write without git or an index: the version files, the options."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from helpers import copy_fixture

from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release.context import ReleaseOptions
from tooling.release.inputs import check_options
from tooling.release.versioncommit import write_version_files

if TYPE_CHECKING:
    from pathlib import Path

SECTION = "## 0.2.0 - 2026-01-01\n\n### Features\n\n- say goodbye\n"


def test_the_version_files_are_written_together(tmp_path: Path) -> None:
    root = copy_fixture("release-project", tmp_path / "project")
    (root / "CHANGELOG.md").write_bytes(b"# Changelog\r\n\r\n## 0.1.0\r\n\r\n- first\r\n")
    write_version_files(load_config(root), "0.2.0", SECTION)
    assert 'version = "0.2.0"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    changelog = (root / "CHANGELOG.md").read_bytes()
    assert b"## 0.2.0" in changelog
    assert b"\n" not in changelog.replace(b"\r\n", b"")  # CRLF kept
    write_version_files(load_config(root), "0.2.0", SECTION)  # a resumed run: no change
    assert (root / "CHANGELOG.md").read_bytes() == changelog


def test_a_failing_changelog_write_puts_pyproject_back(tmp_path: Path) -> None:
    root = copy_fixture("release-project", tmp_path / "project")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        "[tool.runtime-build]\n", '[tool.runtime-build]\nchangelog = "notes/CHANGELOG.md"\n'),
        encoding="utf-8")
    (root / "notes").write_text("a file where a directory should be\n", encoding="utf-8")
    before = pyproject.read_bytes()
    with pytest.raises(NotADirectoryError):  # the second write fails after the first landed
        write_version_files(load_config(root), "0.2.0", SECTION)
    assert pyproject.read_bytes() == before


def test_a_changelog_that_is_a_directory_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    root = copy_fixture("release-project", tmp_path / "project")
    before = (root / "pyproject.toml").read_bytes()
    (root / "CHANGELOG.md").mkdir()
    with pytest.raises(ToolingError, match="cannot read the CHANGELOG"):
        write_version_files(load_config(root), "0.2.0", SECTION)
    assert (root / "pyproject.toml").read_bytes() == before


def test_a_changelog_that_is_not_utf8_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    root = copy_fixture("release-project", tmp_path / "project")
    before = (root / "pyproject.toml").read_bytes()
    (root / "CHANGELOG.md").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ToolingError, match=r"CHANGELOG\.md: the CHANGELOG is not UTF-8"):
        write_version_files(load_config(root), "0.2.0", SECTION)
    assert (root / "pyproject.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("bump", "prerelease", "jobs", "named"),
    [("huge", None, None, "--bump"), (None, "gamma", None, "--prerelease"),
     (None, None, 0, "--jobs")],
)
def test_a_malformed_option_is_refused_naming_it(
    bump: str | None, prerelease: str | None, jobs: int | None, named: str
) -> None:
    options = ReleaseOptions(dry_run=False, bump=bump, prerelease=prerelease, yes=True,
                             json_output=False, consumers="consumers.toml", jobs=jobs)
    with pytest.raises(ToolingError, match=named):
        check_options(options)


@pytest.mark.parametrize("kind", ["a", "alpha", "b", "beta", "rc", "RC"])
def test_every_documented_prerelease_kind_is_accepted(kind: str) -> None:
    check_options(ReleaseOptions(dry_run=False, bump=None, prerelease=kind, yes=True,
                                 json_output=False, consumers="consumers.toml", jobs=None))
