"""Test trees by pytest's rules: which names they shadow, their config, quoted imports."""

from __future__ import annotations

import shutil
import textwrap
from typing import TYPE_CHECKING

import helpers
import pytest
from test_rewrite_tree import assert_same_tree

from tooling.errors import ToolingError
from tooling.rewrite import (
    drop_coverage,
    find_templates,
    read_pytest_config,
    rewrite_source,
    rewrite_tree,
    shadowing_names,
)
from tooling.rewrite._quoted import rewrite_quoted_imports

if TYPE_CHECKING:
    from pathlib import Path

FIXTURE = helpers.FIXTURES / "rewrite-shadowing"
NAMES = frozenset({"adapters", "config", "plugins_registry"})


@pytest.mark.parametrize(
    ("case", "shadowed"),
    [
        # tests/__init__.py: the test tree is a package under its parent; nothing shadowed.
        ("package", set()),
        # No tests/__init__.py: tests/ goes first on sys.path, its `adapters` wins.
        ("rootdir", {"adapters"}),
        # --import-mode=importlib puts nothing on sys.path.
        ("importlib", set()),
        # pythonpath = tests/helpers . puts the helpers' `config` ahead of the source's.
        ("pythonpath", {"config"}),
    ],
)
def test_test_tree_shadows_by_pytest_import_rules(
    tmp_path: Path, case: str, shadowed: set[str]
) -> None:
    src = shutil.copytree(FIXTURE / case / "src", tmp_path / "src")
    assert shadowing_names(src / "tests", src) & NAMES == shadowed
    rewrite_tree(
        src, "pkg", tmp_path / "out", tests=src / "tests", tests_out=tmp_path / "tests-out",
        exclude=["tests", "pytest.ini"], jobs=1,
    )
    assert_same_tree(tmp_path / "tests-out", FIXTURE / case / "expected" / "tests")


def test_a_bad_import_mode_is_named(tmp_path: Path) -> None:
    src = shutil.copytree(FIXTURE / "importlib" / "src", tmp_path / "src")
    (src / "pytest.ini").write_text("[pytest]\naddopts = --import-mode=sideways\n")
    with pytest.raises(ToolingError, match=r"pytest\.ini: --import-mode=sideways is not one of"):
        shadowing_names(src / "tests", src)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\naddopts = -q --cov=. --import-mode=append\n"),
        ("pyproject.toml",
         '[tool.pytest.ini_options]\naddopts = ["-q", "--cov=.", "--import-mode=append"]\n'),
        ("tox.ini", "[tox]\n[pytest]\naddopts = -q --cov=. --import-mode=append\n"),
        ("setup.cfg", "[tool:pytest]\naddopts = -q --cov=. --import-mode=append\n"),
    ],
)
def test_pytest_config_is_read_from_every_file_pytest_reads(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / name).write_text(text)
    config = read_pytest_config(tmp_path / "tests")
    assert config.file == tmp_path / name
    assert config.addopts == ("-q", "--cov=.", "--import-mode=append")
    assert config.import_mode == "append"


def test_files_without_a_pytest_section_are_passed_over(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "setup.cfg").write_text("[metadata]\nname = x\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "tox.ini").write_text("[pytest]\npythonpath = .\n")
    config = read_pytest_config(tmp_path / "tests")
    assert config.file == tmp_path / "tox.ini"
    assert config.pythonpath == (tmp_path.resolve(),)


def test_coverage_options_and_their_values_are_dropped() -> None:
    args = ["-ra", "--cov=.", "--cov-report", "term", "--cov-fail-under=86", "--cov", "src",
            "--no-cov-on-fail", "-q", "--strict-markers"]
    assert drop_coverage(args) == ("-ra", "-q", "--strict-markers")


def _rewrite(code: str) -> str:
    def one(snippet: bytes) -> bytes:
        return rewrite_source(snippet, NAMES, "pkg").code

    return rewrite_quoted_imports(code.encode(), NAMES, one)[0].decode()


def test_a_literal_quoting_an_import_statement_is_rewritten_like_the_statement() -> None:
    before = 'assert "from adapters.shared import _redact" in text\n'
    after = 'assert "from pkg.adapters.shared import _redact" in text\n'
    assert _rewrite(before) == after
    assert _rewrite(after) == after  # a second pass changes nothing
    assert _rewrite("x = 'import config; from adapters import y'\n") == (
        "x = 'import pkg.config as config; from pkg.adapters import y'\n"
    )


@pytest.mark.parametrize(
    "code",
    [
        'assert "from json import loads" in text\n',  # not a workspace name
        'assert "adapters.shared" in text\n',  # not an import statement
        'x = "import adapters; print(1)"\n',  # more than imports: code, not a quotation
        'path.write_text("from adapters import x")\n',  # written to a file: third-party code
        'x = "from adapters import \\x61"\n',  # escapes: no byte-exact splice
        'x = f"from adapters import {name}"\n',  # f-strings are not visited
    ],
)
def test_literals_that_are_not_quoted_imports_stay_byte_identical(code: str) -> None:
    assert _rewrite(code) == code


def test_string_templates_importing_workspace_names_are_found() -> None:
    code = textwrap.dedent('''
        import textwrap
        PLUGIN = textwrap.dedent("""
            from plugins_registry.protocol import Plugin

            class Mine(Plugin):
                pass
        """)
        QUOTED = "from adapters import x"
    ''').encode()
    (found,) = find_templates(code, NAMES)
    assert (found.line, found.names) == (3, ("plugins_registry",))
