"""The API gate: fixture repositories with real commits and tags, diffed by the real rewriter."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest
from helpers import FIXTURES, REPO_ROOT, commit, git, init_repo, isolated_env, write_files

from tooling.api.bump import underbump_message
from tooling.api.changes import ApiDiff, Change, ChangeKind
from tooling.api.compare import compare_api
from tooling.api.diff import api_floor, last_release_tag, main
from tooling.api.loader import load_api
from tooling.api.report import render
from tooling.config import load_config

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

BASE = FIXTURES / "apidiff" / "base"
CHANGED = FIXTURES / "apidiff" / "changed"


def _files(root: Path) -> dict[str, str | bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _make_release(
    repo: Path, files: Mapping[str, str | bytes], tag: str = "runtime-v1.0.0"
) -> Path:
    init_repo(repo, files, message="feat: first release")
    git(repo, "tag", tag)
    return repo


@dataclasses.dataclass
class Scenario:
    repo: Path
    diff: ApiDiff
    status_before: str
    status_after: str
    head_before: str
    head_after: str


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """tests/fixtures/apidiff/base released as runtime-v1.0.0, then changed/ committed on top."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_env(tmp_path_factory.mktemp("home")).items():
            mp.setenv(key, value)
        repo = _make_release(tmp_path_factory.mktemp("scenario") / "repo", _files(BASE))
        (repo / "src" / "gone.py").unlink()
        commit(repo, "feat!: reshape the API", _files(CHANGED))
        # An uncommitted edit: the working tree, not HEAD, is what gets compared.
        write_files(repo, {"notes.txt": "scratch\n"})
        status, head = git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD")
        diff = api_floor(load_config(repo), None)
        return Scenario(repo, diff, status, git(repo, "status", "--porcelain"), head,
                        git(repo, "rev-parse", "HEAD"))


def _find(changes: tuple[Change, ...], path: str, kind: str) -> list[Change]:
    return [c for c in changes if c.path == path and c.kind == kind]


@pytest.mark.parametrize(
    ("path", "kind", "old", "new"),
    [
        ("tinyrt.api.removed_func", "removed", "function", None),
        ("tinyrt.gone", "removed", "module", None),
        ("tinyrt.shapes.Shape", "removed", "class", None),
        ("tinyrt.api.param_removed", "parameter-removed", "b", None),
        ("tinyrt.api.param_renamed", "parameter-renamed", "b", "c"),
        ("tinyrt.api.param_reordered", "parameter-moved", "a at 1|b at 2", "a at 2|b at 1"),
        ("tinyrt.api.made_required", "parameter-required", "b=1", "b"),
        (
            "tinyrt.api.kind_changed", "parameter-kind",
            "b: positional or keyword", "b: keyword-only",
        ),
        ("tinyrt.api.required_added", "required-parameter-added", None, "b"),
        ("tinyrt.api.returns_changed", "return-annotation", "int", "str"),
        ("tinyrt.api.LIMIT", "attribute-annotation", "int", "str"),
        ("tinyrt.api.TIMEOUT", "attribute-value", "30", "60"),
        ("tinyrt.classes.Child", "base-removed", "tinyrt.classes.Base", None),
        ("tinyrt.api.becomes_class", "kind-changed", "function", "class"),
    ],
)
def test_each_breaking_kind_is_reported(
    scenario: Scenario, path: str, kind: str, old: str | None, new: str | None
) -> None:
    found = _find(scenario.diff.breaking, path, kind)
    # Several entries of one kind are written "first|second".
    olds = old.split("|") if old else [old]
    news = new.split("|") if new else [new] * len(olds)
    assert [(c.old, c.new) for c in found] == list(zip(olds, news, strict=True))


@pytest.mark.parametrize(
    ("path", "kind", "new"),
    [
        ("tinyrt.extra", "added-module", "module"),
        ("tinyrt.api.NewThing", "added-class", "class"),
        ("tinyrt.api.brand_new", "added-function", "function"),
        ("tinyrt.classes.Grows.fresh", "added-method", "method"),
        ("tinyrt.classes.Grows.color", "added-attribute", "attribute"),
        ("tinyrt.api.optional_added", "optional-parameter-added", "b=2"),
        ("tinyrt.classes.Config", "optional-parameter-added", "verbose=False"),
        ("tinyrt.limited.announced", "added-function", "function"),
    ],
)
def test_each_additive_kind_is_reported(scenario: Scenario, path: str, kind: str, new: str) -> None:
    assert [c.new for c in _find(scenario.diff.added, path, kind)] == [new]


@pytest.mark.parametrize(
    "path",
    [
        "tinyrt.api.kwonly_reordered",  # keyword-only parameters reordered
        "tinyrt.api.body_changed",  # docstring and body rewritten
        "tinyrt.api.SAME",  # same dict, other quotes, order and parentheses
        "tinyrt.api.SPELLED",  # 0x10 == 16
        "tinyrt.api.os",  # an import is not API
        "tinyrt.__version__",  # changes with every release by design
        "tinyrt.limited.__version__",  # even when listed in __all__
        "tinyrt.api._private_old",  # private rename
        "tinyrt._internal",  # private module rewritten
        "tinyrt.limited.hidden",  # not in __all__: signature change is private
        "tinyrt.limited.unlisted",  # not in __all__: addition is private
        "tinyrt.classes.Keeps",  # new direct base still inherits the old one
        "tinyrt.shapes.base.Shape",  # still defined where it was
    ],
)
def test_no_false_alarm(scenario: Scenario, path: str) -> None:
    every = [*scenario.diff.breaking, *scenario.diff.added]
    assert [c for c in every if c.path == path or c.path.startswith(f"{path}.")] == []


def test_breaking_change_requires_a_major_bump(scenario: Scenario) -> None:
    assert scenario.diff.required_bump == "major"
    assert scenario.diff.against == "runtime-v1.0.0"


def test_removed_module_is_reported_once_not_per_member(scenario: Scenario) -> None:
    assert [c.path for c in scenario.diff.breaking if c.path.startswith("tinyrt.gone")] == [
        "tinyrt.gone"
    ]


def test_locations_point_into_the_source_tree(scenario: Scenario) -> None:
    renamed = _find(scenario.diff.breaking, "tinyrt.api.param_renamed", "parameter-renamed")[0]
    assert (renamed.file, renamed.line) == (
        "src/api.py", _line_of(CHANGED / "src" / "api.py", "def param_renamed")
    )
    # A removal points where the object was, in the release.
    removed = _find(scenario.diff.breaking, "tinyrt.api.removed_func", "removed")[0]
    assert (removed.file, removed.line) == (
        "src/api.py", _line_of(BASE / "src" / "api.py", "def removed_func")
    )
    # A dropped re-export points at the import that made it public.
    reexport = _find(scenario.diff.breaking, "tinyrt.shapes.Shape", "removed")[0]
    assert (reexport.file, reexport.line) == ("src/shapes/__init__.py", 3)


def test_ref_is_staged_without_touching_the_working_tree(scenario: Scenario) -> None:
    assert scenario.status_after == scenario.status_before
    assert scenario.head_after == scenario.head_before
    assert len(git(scenario.repo, "worktree", "list").splitlines()) == 1


def test_text_format_is_an_aligned_table(scenario: Scenario) -> None:
    text = render(scenario.diff, "text")
    lines = text.splitlines()
    header = next(line for line in lines if "CHANGE" in line)
    rows = [line for line in lines if line.startswith(("breaking ", "added "))]
    assert len(rows) == len(scenario.diff.breaking) + len(scenario.diff.added)
    column = header.index("WHERE")
    assert all(row[column:].startswith("src/") for row in rows)
    assert lines[-1] == "required bump: major (16 breaking, 8 added, 0 ignored)"


def test_json_format_lists_every_change_with_its_location(scenario: Scenario) -> None:
    data = json.loads(render(scenario.diff, "json"))
    assert data["required_bump"] == "major"
    assert len(data["breaking"]) == len(scenario.diff.breaking)
    assert len(data["added"]) == len(scenario.diff.added)
    entry = next(e for e in data["breaking"] if e["path"] == "tinyrt.api.param_renamed")
    assert set(entry) == {
        "path", "kind", "old", "new", "file", "line", "message", "element", "still_at"
    }
    assert entry["message"] == "parameter `b` of tinyrt.api.param_renamed was renamed to `c`"


def test_markdown_format_is_a_pr_comment(scenario: Scenario) -> None:
    text = render(scenario.diff, "markdown")
    assert "**Required bump: major**" in text
    assert "#### Breaking changes" in text
    assert "#### Additions" in text
    assert "| parameter-renamed | `tinyrt.api.param_renamed` | `b` | `c` | `src/api.py:" in text


def test_github_format_annotates_breaks_as_errors_and_additions_as_notices(
    scenario: Scenario
) -> None:
    lines = render(scenario.diff, "github").splitlines()
    line = _line_of(CHANGED / "src" / "api.py", "def param_renamed")
    assert (
        f"::error file=src/api.py,line={line},title=API break%3A parameter-renamed::"
        "parameter `b` of tinyrt.api.param_renamed was renamed to `c`"
    ) in lines
    assert sum(x.startswith("::error ") for x in lines) == len(scenario.diff.breaking)
    assert sum(x.startswith("::notice ") for x in lines) == len(scenario.diff.added)


def test_declared_bump_below_the_floor_exits_1_naming_the_breaks(scenario: Scenario) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tooling.api", "--root", str(scenario.repo),
         "--format", "json", "--declared", "minor"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["required_bump"] == "major"
    assert "declared bump minor is below the required major" in proc.stderr
    assert "tinyrt.api.removed_func (removed)" in proc.stderr
    assert "--bump major" in proc.stderr


def test_declared_bump_at_the_floor_exits_0(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(scenario.repo), "--declared", "major"]) == 0
    assert "required bump: major" in capsys.readouterr().out


def test_underbump_message_names_additions_when_nothing_breaks() -> None:
    added = Change(
        "p.f", ChangeKind.ADDED_FUNCTION, None, "function", "src/p.py", 3, "function p.f added"
    )
    diff = ApiDiff("p", "v1", "minor", (), (added,), ())
    assert underbump_message(diff, "minor") is None
    message = underbump_message(diff, "patch")
    assert message is not None
    assert "p.f (added-function)" in message
    assert "--bump minor" in message


def _kinds(tmp_path: Path, old: str, new: str) -> list[tuple[str, str]]:
    # Plain package dirs loaded directly: these cases are about the comparison alone.
    for side, code in (("old", old), ("new", new)):
        write_files(tmp_path / side, {"pkg/__init__.py": "", "pkg/mod.py": textwrap.dedent(code)})
    changes = compare_api(load_api(tmp_path / "old", "pkg"), load_api(tmp_path / "new", "pkg"))
    return [(c.path, c.kind) for c in changes]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("def f(a, /): ...", "def f(b, /): ...", []),
        ("def f(*, a=1): ...", "def f(**kw): ...", [("pkg.mod.f", "optional-parameter-added")]),
        ("def f(*, a): ...", "def f(a): ...", []),
        ("def f(a, b=1): ...", "def f(a, b=2): ...", []),
        ("def f(a: int): ...", "def f(a: str): ...", []),
        ("def f(a): ...", "def f(a) -> int: ...", []),
        ("X = 1", "X: int = 1", []),
        ("class C(object): ...", "class C: ...", []),
        ("class C:\n    @property\n    def x(self) -> int: ...", "class C:\n    x: int = 0", []),
        ("def f(a): ...", "async def f(a): ...", [("pkg.mod.f", "kind-changed")]),
        ("def f(a, *args): ...", "def f(a): ...", [("pkg.mod.f", "parameter-removed")]),
        (
            "def f(a): ...", "def f(a, *args, **kw): ...",
            [("pkg.mod.f", "optional-parameter-added")] * 2,
        ),
        ("def f(a, /): ...", "def f(*, a): ...", [("pkg.mod.f", "parameter-kind")]),
        ("class C:\n    def m(self): ...", "class C:\n    @property\n    def m(self): ...",
         [("pkg.mod.C.m", "kind-changed")]),
    ],
    ids=[
        "positional-only-rename", "keyword-still-taken-by-kwargs", "keyword-only-widened",
        "default-changed", "parameter-annotation", "return-annotation-added",
        "attribute-annotation-added", "object-base-dropped", "property-to-attribute",
        "became-async", "args-removed", "args-kwargs-added", "positional-only-to-keyword-only",
        "method-to-property",
    ],
)
def test_comparison_rules(
    tmp_path: Path, old: str, new: str, expected: list[tuple[str, str]]
) -> None:
    assert _kinds(tmp_path, old, new) == expected


SMALL = {
    "pyproject.toml": (BASE / "pyproject.toml").read_text(),
    "src/mod.py": "def keep(a):\n    return a\n\n\ndef drop(a):\n    return a\n",
}


def test_ignore_entry_reports_the_break_with_its_reason_and_keeps_the_floor_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _make_release(tmp_path / "repo", SMALL)
    ignore = (
        '\n[tool.runtime-build.api-ignore]\n"tinyrt.mod.drop" = "nobody calls it, see #42"\n'
        '"tinyrt.mod.never" = "stale entry"\n'
    )
    commit(repo, "fix: drop an unused helper", {
        "src/mod.py": "def keep(a):\n    return a\n",
        "pyproject.toml": SMALL["pyproject.toml"] + ignore,
    })
    assert main(["--root", str(repo), "--declared", "patch"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"^ignored +removed +tinyrt\.mod\.drop ", captured.out, re.MULTILINE)
    assert "ignored tinyrt.mod.drop: nobody calls it, see #42" in captured.out
    assert "required bump: patch (0 breaking, 0 added, 1 ignored)" in captured.out
    assert "'tinyrt.mod.never' matched no breaking change" in captured.err

    diff = api_floor(load_config(repo), None)
    assert diff.breaking == ()
    assert [(i.change.path, i.reason) for i in diff.ignored] == [
        ("tinyrt.mod.drop", "nobody calls it, see #42")
    ]


def test_without_a_release_tag_everything_counts_as_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_repo(tmp_path / "repo", SMALL)
    assert main(["--root", str(tmp_path / "repo")]) == 0
    out = capsys.readouterr().out
    assert "no release tag reachable from HEAD: the whole public API counts as added" in out
    assert "tinyrt.mod " in out
    assert "required bump: minor" in out


def test_shallow_clone_without_tags_is_refused_rather_than_all_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = _make_release(tmp_path / "origin", SMALL)
    commit(origin, "feat: more", {"src/more.py": "X = 1\n"})
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--no-tags", origin.as_uri(),
                    str(tmp_path / "shallow")], check=True)
    assert main(["--root", str(tmp_path / "shallow")]) == 1
    assert "shallow clone and no runtime-vX.Y.Z tag reachable from HEAD" in capsys.readouterr().err


def test_default_ref_is_the_highest_release_tag_reachable_from_head(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", {"a.txt": "1"})
    for tag in ("runtime-v1.2.0", "runtime-v1.10.0", "runtime-v1.11.0rc1", "runtime-vbogus",
                "runtime-v01.20.0", "other-v9.0.0"):
        git(repo, "tag", tag)
    git(repo, "switch", "-q", "-c", "side")
    commit(repo, "feat: elsewhere")
    git(repo, "tag", "runtime-v9.0.0")
    git(repo, "switch", "-q", "main")
    assert last_release_tag(repo, "runtime-v") == "runtime-v1.11.0rc1"
    git(repo, "tag", "runtime-v1.11.0")
    assert last_release_tag(repo, "runtime-v") == "runtime-v1.11.0"
    assert last_release_tag(repo, "nothing-") is None


def test_ref_side_reads_its_own_config_so_a_moved_source_dir_still_compares(tmp_path: Path) -> None:
    repo = _make_release(tmp_path / "repo", SMALL)
    git(repo, "mv", "src", "runtime_src")
    pyproject = SMALL["pyproject.toml"].replace('source = "src"', 'source = "runtime_src"')
    commit(repo, "refactor: move the source", {"pyproject.toml": pyproject})
    diff = api_floor(load_config(repo), None)
    assert (diff.breaking, diff.added, diff.required_bump) == ((), (), "patch")


def test_ref_config_with_a_retired_key_still_compares(tmp_path: Path) -> None:
    # History cannot be edited: a key a past release used is skipped there, not refused.
    retired = SMALL["pyproject.toml"].replace(
        "[tool.runtime-build]\n", "[tool.runtime-build]\nretired-setting = true\n"
    )
    repo = _make_release(tmp_path / "repo", {**SMALL, "pyproject.toml": retired})
    commit(repo, "chore: drop the retired setting", {"pyproject.toml": SMALL["pyproject.toml"]})
    diff = api_floor(load_config(repo), None)
    assert (diff.breaking, diff.added, diff.required_bump) == ((), (), "patch")


def test_against_an_unknown_ref_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _make_release(tmp_path / "repo", SMALL)
    assert main(["--root", str(repo), "--against", "no-such-ref"]) == 1
    err = capsys.readouterr().err
    assert "error: --against no-such-ref: not a commit in" in err


def test_public_reexport_from_a_private_module_counts_at_its_public_path(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": SMALL["pyproject.toml"],
        "src/_impl.py": "class Engine:\n    def start(self, fast=False):\n        return fast\n",
        "src/facade.py": '__all__ = ["Engine"]\n\nfrom _impl import Engine\n',
    }
    repo = _make_release(tmp_path / "repo", files)
    commit(repo, "feat!: start needs a mode", {
        "src/_impl.py": (
            "class Engine:\n    def start(self, mode, fast=False):\n        return fast\n"
        ),
    })
    diff = api_floor(load_config(repo), None)
    # Engine lives in a private module; its public path is the re-export.
    assert [(c.path, c.kind, c.old, c.new) for c in diff.breaking] == [
        ("tinyrt.facade.Engine.start", "parameter-moved", "fast at 1", "fast at 2"),
        ("tinyrt.facade.Engine.start", "required-parameter-added", None, "mode"),
    ]


def test_api_diff_of_the_bundled_workspace_takes_under_5_seconds() -> None:
    config = load_config(REPO_ROOT)
    start = time.perf_counter()
    diff = api_floor(config, None)
    took = time.perf_counter() - start
    assert took < 5.0
    assert diff.required_bump in {"major", "minor", "patch"}

