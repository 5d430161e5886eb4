"""The API gate on a public project: two released sdists of attrs, diffed both ways.

attrs re-exports the way a monorepo does: the ``attrs`` package's ``__init__`` imports from
the sibling top-level package ``attr``, and ``attrs/validators.py`` is
``from attr.validators import *``.  Both trees go through the real pipeline (a git repository
with a release tag, the rewriter, the API gate) as the bare top-level modules of one runtime.

Expected result, checked by hand against the attrs 22.2.0 changelog and sources:
``AttrsInstance`` was added to ``attr/_make.py`` (re-exported by ``attr`` and ``attrs``),
``validators.not_`` to ``attr/validators.py`` (star re-exported by ``attrs.validators``),
``alias`` to ``attr.ib``/``field``, ``unsafe_hash`` to ``attr.s``/``define``; ``NOTHING``
became an enum member (data, not an API break).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from typing import TYPE_CHECKING

import pytest
from helpers import commit, git, init_repo

from tooling.api.changes import ChangeKind
from tooling.api.diff import api_floor
from tooling.config import load_config

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.api.changes import ApiDiff

OLD, NEW = "22.1.0", "22.2.0"
PYPROJECT = """[project]
name = "vendored-attrs"
version = "1.0.0"
requires-python = ">=3.11"

[tool.runtime-build]
source = "src"
package = "vendored"
tag-prefix = "runtime-v"
"""

ADDED = [
    ("vendored.attr.AttrsInstance", ChangeKind.ADDED_CLASS),
    ("vendored.attr.validators.not_", ChangeKind.ADDED_FUNCTION),
    ("vendored.attrs.AttrsInstance", ChangeKind.ADDED_CLASS),
    ("vendored.attrs.validators.not_", ChangeKind.ADDED_FUNCTION),
]
NEW_PARAMETERS = [
    ("vendored.attr.attrib", "alias=None"),
    ("vendored.attr.attrs", "unsafe_hash=None"),
    ("vendored.attr.define", "unsafe_hash=None"),
    ("vendored.attr.field", "alias=None"),
    ("vendored.attrs.define", "unsafe_hash=None"),
    ("vendored.attrs.field", "alias=None"),
]


def _download(version: str, into: Path) -> Path:
    """The released sdist of attrs ``version``, from the package index (never a wheel)."""
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--no-binary", ":all:", f"attrs=={version}", "-d", str(into)],
        check=True, capture_output=True, timeout=300,
    )
    (sdist,) = into.glob(f"attrs-{version}.tar.gz")
    return sdist


def _unpack_source(sdist: Path, repo: Path) -> None:
    """Replace ``repo/src`` with the sdist's ``src/attr`` and ``src/attrs``."""
    shutil.rmtree(repo / "src", ignore_errors=True)
    prefix = sdist.name.removesuffix(".tar.gz") + "/src/"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix(prefix)
            if member.isfile() and member.name.startswith(prefix) and rel.startswith(
                ("attr/", "attrs/")
            ):
                target = repo / "src" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                assert extracted is not None
                target.write_bytes(extracted.read())


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with attrs OLD tagged runtime-v1.0.0 and attrs NEW tagged runtime-v1.1.0."""
    work = tmp_path_factory.mktemp("attrs")
    repo = init_repo(work / "repo", {"pyproject.toml": PYPROJECT}, message="chore: init")
    _unpack_source(_download(OLD, work / "sdists"), repo)
    commit(repo, f"feat: attrs {OLD}")
    git(repo, "tag", "runtime-v1.0.0")
    _unpack_source(_download(NEW, work / "sdists"), repo)
    commit(repo, f"feat: attrs {NEW}")
    git(repo, "tag", "runtime-v1.1.0")
    return repo


def _kinds(diff: ApiDiff) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return ([(c.path, c.kind) for c in diff.breaking], [(c.path, c.kind) for c in diff.added])


@pytest.mark.slow
@pytest.mark.index
def test_a_newer_release_of_a_public_project_adds_exactly_what_its_changelog_says(
    released: Path,
) -> None:
    git(released, "switch", "-q", "--detach", "runtime-v1.1.0")
    diff = api_floor(load_config(released), "runtime-v1.0.0")
    breaking, added = _kinds(diff)
    assert breaking == []
    assert [a for a in added if a[1] is not ChangeKind.OPTIONAL_PARAMETER_ADDED] == ADDED
    assert [(c.path, c.new) for c in diff.added
            if c.kind is ChangeKind.OPTIONAL_PARAMETER_ADDED] == NEW_PARAMETERS
    assert [(c.path, c.kind) for c in diff.changed] == [
        ("vendored.attr.NOTHING", ChangeKind.CHANGED_VALUE),
        ("vendored.attrs.NOTHING", ChangeKind.CHANGED_VALUE),
    ]
    assert diff.required_bump == "minor"


@pytest.mark.slow
@pytest.mark.index
def test_going_back_to_the_older_release_removes_exactly_the_same(released: Path) -> None:
    git(released, "switch", "-q", "--detach", "runtime-v1.0.0")
    diff = api_floor(load_config(released), "runtime-v1.1.0")
    breaking, added = _kinds(diff)
    assert added == []
    removed = [b for b in breaking if b[1] is ChangeKind.REMOVED]
    assert removed == [(path, ChangeKind.REMOVED) for path, _ in ADDED]
    assert sorted(b for b in breaking if b[1] is not ChangeKind.REMOVED) == sorted(
        (path, ChangeKind.PARAMETER_REMOVED) for path, _ in NEW_PARAMETERS
    )
    assert diff.required_bump == "major"
