"""Every import path users write, from a tree that re-exports the way real monorepos do.

tests/fixtures/apidiff-reexports is released as runtime-v1.0.0, then one edit is committed on
top; each test is one rule of docs/api-diff.md "What is public".  The outage this gate exists
for is the last test: a class added to the base module is an addition under every path users
import it from, so a history of fixes alone is released as a minor version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from helpers import FIXTURES, commit, git, init_repo

from tooling.api.changes import ChangeKind
from tooling.api.diff import api_floor, load_worktree_api
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release.context import ReleaseOptions
from tooling.release.planning import plan_release

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.api.changes import ApiDiff

PROJECT = FIXTURES / "apidiff-reexports"


def _files(root: Path) -> dict[str, str | bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The fixture project with its first release tagged."""
    path = init_repo(tmp_path / "repo", _files(PROJECT), message="feat: first release")
    git(path, "tag", "runtime-v1.0.0")
    return path


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _rows(diff: ApiDiff) -> list[tuple[str, str, str | None]]:
    return [(c.path, c.kind, c.still_at) for c in (*diff.breaking, *diff.added)]


def test_every_import_path_users_write_is_public(repo: Path, tmp_path: Path) -> None:
    paths = set(load_worktree_api(load_config(repo), tmp_path / "stage").model.objects)
    expected = {
        # a package __init__ importing from a sibling top-level module
        "tinyrx.adapters.AdapterConfig", "tinyrx.adapters.BaseAdapter",
        # everything the star re-export exposes, following adapter_base's public names
        "tinyrx.adapters.base.AdapterConfig", "tinyrx.adapters.base.BaseAdapter",
        "tinyrx.adapters.base.ADAPTER_PROTOCOL_VERSION",
        # a name __all__ lists; a redundant alias
        "tinyrx.registry.BaseAdapter", "tinyrx.compat.AdapterConfig",
    }
    assert expected <= paths
    # Incidental imports are not API: adapter_base's own imports, a plain import elsewhere.
    assert not {
        "tinyrx.adapters.base.os", "tinyrx.adapters.base.dataclass",
        "tinyrx.adapters.base._internal_helper", "tinyrx.compat.BaseAdapter",
    } & paths


def test_dropping_a_name_from_an_init_reexport_line_is_breaking(repo: Path) -> None:
    _edit(repo, "src/adapters/__init__.py", "AdapterConfig, BaseAdapter", "BaseAdapter")
    commit(repo, "refactor: trim the adapters package")
    diff = api_floor(load_config(repo), None)
    assert _rows(diff) == [
        ("tinyrx.adapters.AdapterConfig", ChangeKind.REMOVED, "tinyrx.adapter_base.AdapterConfig"),
    ]
    assert diff.breaking[0].message == (
        "class tinyrx.adapters.AdapterConfig was removed "
        "(still importable from tinyrx.adapter_base.AdapterConfig)"
    )
    assert diff.required_bump == "major"


def test_removing_a_name_the_star_reexport_reads_is_breaking_at_both_paths(repo: Path) -> None:
    _edit(repo, "src/adapter_base.py", "ADAPTER_PROTOCOL_VERSION = 1\n", "")
    commit(repo, "refactor: the protocol version moves out")
    diff = api_floor(load_config(repo), None)
    assert _rows(diff) == [
        ("tinyrx.adapter_base.ADAPTER_PROTOCOL_VERSION", ChangeKind.REMOVED, None),
        ("tinyrx.adapters.base.ADAPTER_PROTOCOL_VERSION", ChangeKind.REMOVED, None),
    ]


def test_a_name_dropped_from_all_is_breaking(repo: Path) -> None:
    _edit(repo, "src/registry.py", '["BaseAdapter", "register"]', '["register"]')
    commit(repo, "refactor: registry lists less")
    diff = api_floor(load_config(repo), None)
    assert _rows(diff) == [
        ("tinyrx.registry.BaseAdapter", ChangeKind.REMOVED, "tinyrx.adapter_base.BaseAdapter"),
    ]


def test_a_redundant_alias_turned_plain_import_is_breaking(repo: Path) -> None:
    _edit(repo, "src/compat.py", "import AdapterConfig as AdapterConfig", "import AdapterConfig")
    commit(repo, "refactor: plain import")
    diff = api_floor(load_config(repo), None)
    assert _rows(diff) == [
        ("tinyrx.compat.AdapterConfig", ChangeKind.REMOVED, "tinyrx.adapter_base.AdapterConfig"),
    ]


def test_moving_a_definition_behind_a_kept_reexport_is_no_change(repo: Path) -> None:
    base = (repo / "src" / "adapter_base.py").read_text(encoding="utf-8")
    start = base.index("class BaseAdapter:")
    end = base.index("def _internal_helper")
    (repo / "src" / "_adapter_impl.py").write_text(base[start:end], encoding="utf-8")
    moved = base[:start] + "from _adapter_impl import BaseAdapter as BaseAdapter\n\n\n" + base[end:]
    (repo / "src" / "adapter_base.py").write_text(moved, encoding="utf-8")
    commit(repo, "refactor: BaseAdapter lives in a private module")
    diff = api_floor(load_config(repo), None)
    assert (diff.breaking, diff.added, diff.changed, diff.required_bump) == ((), (), (), "patch")


def test_a_class_added_to_the_base_module_releases_as_minor_after_fixes_only(
    repo: Path,
) -> None:
    addition = '\n\nclass RuntimeCapabilities:\n    """What a runtime can do."""\n'
    with (repo / "src" / "adapter_base.py").open("a", encoding="utf-8") as fh:
        fh.write(addition)
    commit(repo, "fix: describe runtime capabilities")
    config = load_config(repo)
    diff = api_floor(config, None)
    assert _rows(diff) == [
        ("tinyrx.adapter_base.RuntimeCapabilities", ChangeKind.ADDED_CLASS, None),
        ("tinyrx.adapters.base.RuntimeCapabilities", ChangeKind.ADDED_CLASS, None),
    ]
    assert diff.required_bump == "minor"
    # The commits alone ask for a patch; the addition raises the release to minor itself.
    options = ReleaseOptions(dry_run=True, bump=None, prerelease=None, yes=True,
                             json_output=False, consumers="consumers.toml", jobs=None)
    plan = plan_release(config, options)
    assert (plan.commit_bump, plan.bump, plan.next) == ("patch", "minor", "1.1.0")
    assert plan.reason.endswith("the public API's additions ask for minor")
    assert "tinyrx.adapter_base.RuntimeCapabilities (added-class)" in plan.api_breaking[0]


def _declare(repo: Path, table: str) -> None:
    with (repo / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(table)


STABLE = """stable-imports = [
    "tinyrx.adapters:get_adapter,BaseAdapter,AdapterConfig",
    "tinyrx.compat:BaseAdapter",
]
"""


def test_removing_a_stable_import_is_breaking_even_when_ignored(repo: Path) -> None:
    _declare(repo, STABLE + '\n[tool.runtime-build.api-ignore]\n'
             '"adapters" = "the adapters package is being reshaped"\n')
    _edit(repo, "src/adapters/__init__.py", "AdapterConfig, BaseAdapter", "BaseAdapter")
    commit(repo, "refactor: trim the adapters package")
    diff = api_floor(load_config(repo), None)
    assert [(c.path, c.kind) for c in diff.breaking] == [
        ("tinyrx.adapters.AdapterConfig", ChangeKind.REMOVED),
    ]
    assert diff.ignored == ()


def test_a_stable_import_is_protected_even_where_the_rules_call_it_private(repo: Path) -> None:
    # tinyrx.compat.BaseAdapter is a plain import: not public by the rules, but declared.
    _declare(repo, STABLE)
    _edit(repo, "src/compat.py", "from adapter_base import BaseAdapter\n", "")
    commit(repo, "refactor: compat imports less")
    diff = api_floor(load_config(repo), None)
    assert _rows(diff) == [
        ("tinyrx.compat.BaseAdapter", ChangeKind.REMOVED, "tinyrx.adapter_base.BaseAdapter"),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tinyrx.adapters:NoSuchThing", "tinyrx.adapters.NoSuchThing is not importable"),
        ("other.adapters:BaseAdapter", "is outside the package"),
        ("tinyrx.adapters:Base Adapter", 'must look like "pkg.module:Name,Other"'),
    ],
)
def test_a_stable_import_entry_naming_nothing_is_an_error(
    repo: Path, entry: str, message: str
) -> None:
    _declare(repo, f'stable-imports = ["{entry}"]\n')
    commit(repo, "chore: declare")
    with pytest.raises(ToolingError, match=message):
        api_floor(load_config(repo), None)
