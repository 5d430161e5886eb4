"""Isolation for every test, and the shared real parts (package index, git author)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from helpers import SENTINEL, PackageIndex, isolated_env, start_package_index

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Fixture trees hold test suites of their own, run by the tests that copy them.
collect_ignore_glob = ["fixtures/*"]

# Variables from the developer's or CI's environment that would change what the pipeline
# does under test (real credentials, a real index, Actions annotations).
_SCRUBBED = (
    "TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_REPOSITORY", "TWINE_REPOSITORY_URL",
    "RUNTIME_INDEX_URL", "CASCADE_TOKEN", "GITHUB_ACTIONS", "GITEA_ACTIONS", "RELEASE_BUMP",
    "GITHUB_TOKEN", "GIT_DIR", "GIT_WORK_TREE", "SOURCE_DATE_EPOCH", "GITHUB_REF",
    "GITHUB_REF_NAME", "GITHUB_REF_TYPE", "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "RUNTIME_SMOKE_PYTHONS", "CI", "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temp HOME and XDG dirs, no system git config, a fixed git author, no real secrets."""
    home = tmp_path_factory.mktemp("home")
    for key, value in isolated_env(home).items():
        monkeypatch.setenv(key, value)
    for key in _SCRUBBED:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """A pypiserver on 127.0.0.1 for the whole session, open for uploads."""
    root = tmp_path_factory.mktemp("index")
    index = start_package_index(root / "packages")
    try:
        yield index
    finally:
        index.stop()


@pytest.fixture
def fresh_index(tmp_path: Path) -> Iterator[PackageIndex]:
    """A pypiserver of this test's own, needing the sentinel password for uploads."""
    index = start_package_index(tmp_path / "index-packages", username="uploader", password=SENTINEL)
    try:
        yield index
    finally:
        index.stop()


@pytest.fixture
def sentinel() -> str:
    """The sentinel secret: set it as a credential, then assert it is never printed."""
    return SENTINEL


def pytest_report_header() -> str:
    """Say which interpreter runs the suite."""
    return f"tooling tests on {sys.version.split()[0]}"


@pytest.fixture
def no_secret_in_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a test prints (or its subprocesses print) must not hold the sentinel."""
    yield
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err
