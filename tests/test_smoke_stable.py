"""The smoke imports each declared stable import from the installed wheel, every entry shown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from test_smoke import checks, smoke
from test_stage import make_project

from tooling.build.dists import build_distributions
from tooling.config import load_config, parse_stable_import
from tooling.smoke.stable import import_statement

if TYPE_CHECKING:
    from pathlib import Path


def _declare(root: Path, entries: list[str]) -> None:
    path = root / "pyproject.toml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("stable-imports")]
    at = lines.index('package = "tiny_runtime"') + 1
    lines.insert(at, f"stable-imports = {json.dumps(entries)}")
    path.write_text("\n".join(lines) + "\n")


def test_an_entry_becomes_the_statement_a_user_writes() -> None:
    names = parse_stable_import("pkg.adapters:get_adapter, BaseAdapter", "here")
    assert import_statement(names) == "from pkg.adapters import get_adapter, BaseAdapter"
    assert import_statement(parse_stable_import("pkg.adapters", "here")) == "import pkg.adapters"


@pytest.mark.slow
def test_stable_imports_pass_and_each_broken_one_is_named(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    _declare(root, ["tiny_runtime.helpers:greet", "tiny_runtime.cli"])
    build_distributions(load_config(root), quiet=True)
    good = checks(smoke(root))["stable-imports"]
    assert (good.ok, good.detail) == (True, "2 stable imports ok")

    _declare(root, ["tiny_runtime.helpers:greet,farewell", "tiny_runtime.gone:thing"])
    bad = checks(smoke(root))["stable-imports"]
    assert not bad.ok
    first, second = bad.failures
    assert first.startswith(
        "from tiny_runtime.helpers import greet, farewell: ImportError: "
        "cannot import name 'farewell' from 'tiny_runtime.helpers'"
    )
    assert second == (
        "from tiny_runtime.gone import thing: ModuleNotFoundError: "
        "No module named 'tiny_runtime.gone'"
    )
    assert bad.detail.startswith("2 of 2 stable imports failed: from tiny_runtime.helpers")
