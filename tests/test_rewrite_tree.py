"""rewrite_tree and `python -m tooling.rewrite`: the golden tree, errors, cache, jobs, aliases."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tooling.errors import ToolingError
from tooling.rewrite import TreeResult, discover_names, rewrite_tree
from tooling.rewrite._package import hook_block

if TYPE_CHECKING:
    from collections.abc import Sequence

FIXTURE = Path(__file__).parent / "fixtures" / "rewrite-tree"
PKG = "molecule_runtime"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def src(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE / "src", tmp_path / "src")
    return tmp_path / "src"


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def assert_same_tree(actual: Path, expected: Path) -> None:
    got, want = tree_files(actual), tree_files(expected)
    assert sorted(got) == sorted(want), "file sets differ"
    diffs: list[str] = []
    for rel, data in want.items():
        if got[rel] != data:
            diffs.extend(
                difflib.unified_diff(
                    data.decode("utf-8", "replace").splitlines(keepends=True),
                    got[rel].decode("utf-8", "replace").splitlines(keepends=True),
                    f"expected/{rel}",
                    f"actual/{rel}",
                )
            )
            if not diffs:  # only line endings or bytes differ
                diffs.append(f"{rel}: bytes differ: {data!r} != {got[rel]!r}\n")
    assert not diffs, "".join(diffs)


def rewrite_fixture(
    src: Path, out: Path, tests_out: Path, *, jobs: int, cache_dir: Path | None = None
) -> TreeResult:
    return rewrite_tree(
        src, PKG, out, tests=src / "tests", tests_out=tests_out,
        exclude=["tests", "scripts"], jobs=jobs, cache_dir=cache_dir,
    )


def test_whole_tree_matches_the_golden_output(src: Path, tmp_path: Path) -> None:
    rewrite_fixture(src, tmp_path / "out", tmp_path / "tests-out", jobs=1)
    assert_same_tree(tmp_path / "out" / PKG, FIXTURE / "expected" / "out" / PKG)
    assert_same_tree(tmp_path / "tests-out", FIXTURE / "expected" / "tests")


def test_parallel_and_cached_runs_give_identical_output(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # A threshold-sized tree, so the process pool really runs.
    for i in range(10):
        code = f"import config\nfrom heartbeat import Heartbeat\nX = {i}\n"
        (src / f"extra_{i}.py").write_text(code)
    cold = rewrite_fixture(src, tmp_path / "a", tmp_path / "ta", jobs=2, cache_dir=cache)
    warm = rewrite_fixture(src, tmp_path / "b", tmp_path / "tb", jobs=2, cache_dir=cache)
    serial = rewrite_fixture(src, tmp_path / "c", tmp_path / "tc", jobs=1)
    assert tree_files(tmp_path / "a") == tree_files(tmp_path / "b") == tree_files(tmp_path / "c")
    assert cold.cached == 0
    python_files = len(list(src.rglob("*.py"))) - len(list((src / "scripts").rglob("*.py")))
    assert warm.cached == python_files
    assert warm.references == cold.references == serial.references
    (src / "extra_0.py").write_text("import heartbeat\n")
    changed = rewrite_fixture(src, tmp_path / "d", tmp_path / "td", jobs=2, cache_dir=cache)
    assert changed.cached == warm.cached - 1
    assert (tmp_path / "d" / PKG / "extra_0.py").read_text() == (
        f"import {PKG}.heartbeat as heartbeat\n"
    )


def test_discovers_modules_and_packages_but_not_data_dirs(tmp_path: Path) -> None:
    for rel in ("a.py", "pkg/x.py", "ns/deep/y.py", "data/file.txt", "not-id/z.py", "__init__.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert discover_names(tmp_path) == {"a", "pkg", "ns"}


def test_generated_init_is_a_docstring_and_the_sys_modules_hook(
    src: Path, tmp_path: Path
) -> None:
    rewrite_tree(src, PKG, tmp_path / "out", exclude=["tests", "scripts"], jobs=1)
    init = (tmp_path / "out" / PKG / "__init__.py").read_text()
    docstring, hook = init.split("\n", 1)
    assert docstring.startswith('"""')
    assert docstring.endswith('"""')
    names = sorted(discover_names(src) - {"tests", "scripts"})
    assert hook == "\n" + hook_block(names)


def test_excluded_files_are_not_shipped(src: Path, tmp_path: Path) -> None:
    rewrite_tree(src, PKG, tmp_path / "out", exclude=["tests", "scripts", "*.yaml"], jobs=1)
    shipped = tree_files(tmp_path / "out" / PKG)
    assert not any(r.startswith(("tests/", "scripts/")) or r.endswith(".yaml") for r in shipped)


def assert_fails(
    tmp_path: Path,
    message: str,
    source: Path,
    package: str,
    out: Path,
    *,
    exclude: Sequence[str] = (),
) -> ToolingError:
    with pytest.raises(ToolingError) as info:
        rewrite_tree(source, package, out, exclude=exclude)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in {"src", "cache"}]
    assert leftovers == [], "no partial output may remain"
    return info.value


def test_syntax_error_names_path_line_col_and_leaves_no_out(src: Path, tmp_path: Path) -> None:
    (src / "broken.py").write_text("import config\n\ndef f(:\n    pass\n")
    error = assert_fails(tmp_path, f"{src / 'broken.py'}:3:7: invalid syntax",
                         src, PKG, tmp_path / "out", exclude=["tests", "scripts"])
    assert (error.path, error.line, error.col) == (str(src / "broken.py"), 3, 7)


def test_unreadable_file_fails_and_leaves_no_out(src: Path, tmp_path: Path) -> None:
    (src / "gone.py").symlink_to(src / "does-not-exist.py")
    assert_fails(tmp_path, f"{src / 'gone.py'}: cannot read", src, PKG, tmp_path / "out",
                 exclude=["tests", "scripts"])


def test_out_inside_source_is_refused(src: Path, tmp_path: Path) -> None:
    assert_fails(tmp_path, "is inside --source", src, PKG, src / "build")
    assert not (src / "build").exists()


@pytest.mark.parametrize("package", ["1runtime", "molecule-runtime", "class", ""])
def test_package_that_is_not_an_identifier_is_refused(
    src: Path, tmp_path: Path, package: str
) -> None:
    assert_fails(tmp_path, "is not a Python identifier", src, package, tmp_path / "out")


def test_closure_check_reports_imports_of_excluded_code(src: Path, tmp_path: Path) -> None:
    (src / "lib").mkdir()
    (src / "lib" / "__init__.py").write_text("")
    (src / "lib" / "pre_stop.py").write_text("X = 1\n")
    (src / "shutdown.py").write_text("def stop():\n    from lib.pre_stop import X\n    return X\n")
    error = assert_fails(
        tmp_path, f"{src / 'shutdown.py'}:2: imports lib.pre_stop, which is excluded",
        src, PKG, tmp_path / "out", exclude=["tests", "scripts", "lib"],
    )
    assert error.line == 2


def test_closure_check_follows_relative_imports_of_excluded_files(
    src: Path, tmp_path: Path
) -> None:
    (src / "builtin_tools" / "secret.py").write_text("X = 1\n")
    (src / "builtin_tools" / "uses.py").write_text("from .secret import X\n")
    assert_fails(tmp_path, "imports builtin_tools.secret, which is excluded", src, PKG,
                 tmp_path / "out", exclude=["tests", "scripts", "builtin_tools/secret.py"])


def test_existing_out_keeps_its_other_content(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / PKG).mkdir(parents=True)
    (out / PKG / "stale.py").write_text("old\n")
    (out / "keep.txt").write_text("mine\n")
    rewrite_tree(src, PKG, out, exclude=["tests", "scripts"], jobs=1)
    assert not (out / PKG / "stale.py").exists()
    assert (out / "keep.txt").read_text() == "mine\n"
    assert (out / PKG / "main.py").is_file()


def test_cli_prints_a_json_summary(src: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tooling.rewrite", "--source", str(src), "--package", PKG,
         "--out", str(tmp_path / "out"), "--exclude", "tests", "--exclude", "scripts",
         "--json", "--no-cache", "--jobs", "1"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["names"] == sorted(discover_names(src))
    assert summary["files_seen"] == summary["rewritten"] + summary["copied"]
    assert summary["prefiltered"] >= 1  # config.py mentions no workspace name
    assert summary["references"]["import"] >= 3
    assert {"cached", "package_dir"} <= set(summary)


def test_cli_error_is_one_line_and_exit_1(src: Path, tmp_path: Path) -> None:
    (src / "broken.py").write_text("x = (\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tooling.rewrite", "--source", str(src), "--package", PKG,
         "--out", str(tmp_path / "out"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {src / 'broken.py'}:1:")
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()
