"""The API gate's rules one fixture at a time: how a value or member is written is no change.

Each case is ``tests/fixtures/apidiff-cases/<case>/{old,new}/pkg``, loaded statically and
compared; what users can observe decides the verdict, not how the source spells it.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from helpers import FIXTURES

from tooling.api.bump import classify
from tooling.api.changes import ChangeKind
from tooling.api.compare import compare_api
from tooling.api.loader import load_api
from tooling.api.report import render

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from tooling.api.changes import ApiDiff, Change

CASES = FIXTURES / "apidiff-cases"


def _changes(tmp_path: Path, case: str, *, strict: Collection[str] = ()) -> list[Change]:
    shutil.copytree(CASES / case, tmp_path / case)
    old = load_api(tmp_path / case / "old", "pkg")
    new = load_api(tmp_path / case / "new", "pkg")
    return compare_api(old, new, strict_values=strict)


def _diff(tmp_path: Path, case: str, *, strict: Collection[str] = ()) -> ApiDiff:
    changes = _changes(tmp_path, case, strict=strict)
    return classify(changes, package="pkg", against="v1", ignore={})


@pytest.mark.parametrize(
    "case",
    [
        "value-alias",  # VERSION = _VERSION with the same value; a dict moved behind an alias
        "abstractproperty",  # @abc.abstractproperty rewritten as @property + @abstractmethod
        "cached-property",  # @property -> @functools.cached_property
        "descriptor",  # @property -> a decorator returning property, and a descriptor class
        "private-base",  # a private base dropped, every public member kept
        "module-dunder",  # __doc__ listed in __all__: every module has one
        "getattr-served",  # a re-exported name now served by a module __getattr__
    ],
)
def test_no_false_alarm_from_how_it_is_written(tmp_path: Path, case: str) -> None:
    assert _changes(tmp_path, case) == []


def test_a_public_member_lost_with_a_private_base_is_a_removal(tmp_path: Path) -> None:
    assert [(c.path, c.kind) for c in _changes(tmp_path, "private-base-member-lost")] == [
        ("pkg.mod.Worker.describe", ChangeKind.REMOVED),
    ]


def test_a_removed_public_base_is_breaking(tmp_path: Path) -> None:
    assert [(c.path, c.kind, c.old) for c in _changes(tmp_path, "public-base-removed")] == [
        ("pkg.mod.Worker", ChangeKind.BASE_REMOVED, "pkg.mod.Plugin"),
    ]


def test_editing_a_data_table_is_a_patch_level_change_showing_the_element(
    tmp_path: Path,
) -> None:
    diff = _diff(tmp_path, "data-table")
    assert (diff.breaking, diff.added, diff.required_bump) == ((), (), "patch")
    (change,) = diff.changed
    assert change.kind is ChangeKind.CHANGED_VALUE
    assert change.path == "pkg.mod.TOOLS"
    assert change.element == '[3]["description"]'
    assert (change.old, change.new) == (
        '"Delegate a task to a peer and..."', '"Delegate one task to a peer a..."'
    )
    assert change.message == (
        'value of pkg.mod.TOOLS changed: TOOLS[3]["description"]: '
        '"Delegate a task to a peer and..." -> "Delegate one task to a peer a..."'
    )
    text = render(diff, "text")
    assert 'changed  changed-value  pkg.mod.TOOLS[3]["description"]' in text
    assert text.splitlines()[-1] == (
        "required bump: patch (0 breaking, 0 added, 1 changed, 0 ignored)"
    )


def test_a_data_table_listed_in_api_strict_values_stays_breaking(tmp_path: Path) -> None:
    for listed in ("pkg.mod.TOOLS", "mod.TOOLS", "TOOLS"):
        diff = _diff(tmp_path / listed, "data-table", strict=[listed])
        assert [(c.path, c.kind, c.element) for c in diff.breaking] == [
            ("pkg.mod.TOOLS", ChangeKind.ATTRIBUTE_VALUE, '[3]["description"]'),
        ]
        assert diff.required_bump == "major"


def test_a_changed_scalar_is_breaking_and_shows_where_the_texts_differ(tmp_path: Path) -> None:
    (change,) = _changes(tmp_path, "scalar-text")
    assert change.kind is ChangeKind.ATTRIBUTE_VALUE
    assert change.old != change.new
    assert (change.old, change.new) == ('"...hat talk to peers."', '"...hat talk to other peers."')


def test_an_added_key_is_shown_as_absent_before(tmp_path: Path) -> None:
    old = tmp_path / "old" / "pkg"
    new = tmp_path / "new" / "pkg"
    for side, text in ((old, 'S = {"a": [1, 2]}\n'), (new, 'S = {"a": [1, 2], "b": None}\n')):
        side.mkdir(parents=True)
        (side / "__init__.py").write_text(text)
    (change,) = compare_api(load_api(old.parent, "pkg"), load_api(new.parent, "pkg"))
    assert (change.kind, change.element, change.old, change.new) == (
        ChangeKind.CHANGED_VALUE, '["b"]', "<absent>", "None"
    )
