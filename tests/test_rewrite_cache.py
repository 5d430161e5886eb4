"""The cache and the no-op check: warm output is always byte-identical to a cold run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tooling.rewrite import TreeResult, rewrite_tree

if TYPE_CHECKING:
    from collections.abc import Sequence

FIXTURE = Path(__file__).parent / "fixtures" / "rewrite-tree"
PKG = "molecule_runtime"
EXCLUDE = ["tests", "scripts"]


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def fingerprints(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every entry: equal only if nothing was written."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def src(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE / "src", tmp_path / "src")
    return tmp_path / "src"


def rewrite(
    src: Path, out: Path, cache: Path | None, *, aliases: Sequence[str] = ()
) -> TreeResult:
    return rewrite_tree(
        src, PKG, out, tests=src / "tests", tests_out=out.with_name(f"{out.name}-tests"),
        exclude=EXCLUDE, jobs=1, cache_dir=cache, aliases=aliases,
    )


def assert_like_cold(src: Path, out: Path, tmp_path: Path) -> None:
    """``out`` (and its tests) hold exactly what a cold run without any cache writes."""
    cold = tmp_path / f"cold-{len(list(tmp_path.iterdir()))}"
    rewrite(src, cold, None)
    assert tree_files(out) == tree_files(cold)
    assert tree_files(out.with_name(f"{out.name}-tests")) == tree_files(
        cold.with_name(f"{cold.name}-tests"))


def test_a_warm_no_op_writes_nothing_and_reports_the_same(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    first = rewrite(src, out, cache)
    before = fingerprints(out)
    again = rewrite(src, out, cache)
    assert fingerprints(out) == before, "a no-op must not write"
    python_files = sum(1 for p in src.rglob("*.py") if "scripts" not in p.parts)
    assert again.cached == python_files
    assert (again.files_seen, again.rewritten, again.copied, again.prefiltered,
            again.references) == (first.files_seen, first.rewritten, first.copied,
                                  first.prefiltered, first.references)
    assert_like_cold(src, out, tmp_path)


def test_warm_runs_into_a_new_out_match_a_cold_run(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    rewrite(src, tmp_path / "a", cache)
    result = rewrite(src, tmp_path / "b", cache)
    assert result.cached == sum(1 for p in src.rglob("*.py") if "scripts" not in p.parts)
    assert_like_cold(src, tmp_path / "b", tmp_path)


def test_an_edit_with_same_size_and_mtime_is_still_seen(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache)
    victim = src / "greeting.py"
    stat = victim.stat()
    code = victim.read_bytes()
    edited = code.replace(b'GREETING = "h\xe9llo"', b'GREETING = "hallo"', 1)
    assert edited != code
    assert len(edited) == len(code)
    victim.write_bytes(edited)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert victim.stat().st_mtime_ns == stat.st_mtime_ns
    rewrite(src, out, cache)
    assert b'"hallo"' in (out / PKG / "greeting.py").read_bytes()
    assert_like_cold(src, out, tmp_path)


@pytest.mark.parametrize("change", ["edit", "add", "delete", "chmod"])
def test_every_kind_of_source_change_is_seen(src: Path, tmp_path: Path, change: str) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache)
    if change == "edit":
        (src / "main.py").write_bytes((src / "main.py").read_bytes() + b"import config\n")
    elif change == "add":
        (src / "extra.py").write_text("from builtin_tools.memory import store\n")
    elif change == "delete":
        (src / "greeting.py").unlink()
        for user in src.rglob("*.py"):
            assert b"greeting" not in user.read_bytes(), "fixture changed: pick another file"
    else:
        (src / "heartbeat.py").chmod(0o755)
    rewrite(src, out, cache)
    assert_like_cold(src, out, tmp_path)
    if change == "chmod":
        assert (out / PKG / "heartbeat.py").stat().st_mode & 0o111


def test_a_changed_test_tree_is_seen(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache)
    (src / "tests" / "test_new.py").write_text("import config\n")
    rewrite(src, out, cache)
    assert (tmp_path / "out-tests" / "test_new.py").read_text() == (
        f"import {PKG}.config as config\n")
    assert_like_cold(src, out, tmp_path)


def test_stray_or_touched_output_is_rewritten(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache)
    (out / PKG / "__pycache__").mkdir()
    (out / PKG / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"stale")
    (out / PKG / "main.py").write_text("tampered\n")
    rewrite(src, out, cache)
    assert not (out / PKG / "__pycache__").exists()
    assert_like_cold(src, out, tmp_path)


def test_changed_settings_are_seen(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache, aliases=["plugins_registry"])
    assert (out / PKG / "_compat_aliases.py").exists()
    rewrite(src, out, cache)
    assert not (out / PKG / "_compat_aliases.py").exists()
    assert_like_cold(src, out, tmp_path)


def test_corrupt_cache_files_are_ignored(src: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    rewrite(src, out, cache)
    written = sorted(p.name.split("-")[0] for p in cache.iterdir())
    assert written == ["index", "index", "out"], "one index per name set, one manifest"
    for path in cache.iterdir():
        path.write_bytes(path.read_bytes()[:40])
    rewrite(src, out, cache)
    assert_like_cold(src, out, tmp_path)
    for path in cache.iterdir():
        path.write_bytes(b"garbage")
    rewrite(src, tmp_path / "other", cache)
    assert_like_cold(src, tmp_path / "other", tmp_path)


def test_manifests_of_one_off_outputs_do_not_pile_up(tmp_path: Path) -> None:
    # The build rewrites into a fresh temp dir each time; their manifests are never read again.
    src = tmp_path / "tiny"
    src.mkdir()
    (src / "a.py").write_text("import b\n")
    (src / "b.py").write_text("")
    cache = tmp_path / "cache"
    for i in range(40):
        rewrite_tree(src, PKG, tmp_path / "outs" / str(i), jobs=1, cache_dir=cache)
    assert len(list(cache.glob("out-*.bin"))) == 32
    before = fingerprints(tmp_path / "outs" / "39")
    rewrite_tree(src, PKG, tmp_path / "outs" / "39", jobs=1, cache_dir=cache)
    assert fingerprints(tmp_path / "outs" / "39") == before, "the newest manifest is kept"
