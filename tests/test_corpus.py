"""The corpus: the converter's before/after pairs, outcome comparison, corpus.toml, one run."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from textwrap import dedent

import pytest

from tooling.bench.corpus.convert import convert_source, layout_for, rebound_names
from tooling.bench.corpus.outcomes import Known, Outcome, compare, read_junit
from tooling.bench.corpus.projects import CORPUS_TOML, Edit, Project, load_projects, select
from tooling.bench.corpus.run import main, make_bare
from tooling.bench.corpus.tree import convert_tree
from tooling.errors import ToolingError
from tooling.files import sha256_of

FIXTURES = Path(__file__).parent / "fixtures"
LAYOUT = layout_for("jinja2", ["environment", "ext", "nodes", "types", "sub"])


def convert(code: str, module: str | None = None, *, is_package: bool = False) -> str:
    return convert_source(dedent(code).encode(), LAYOUT, module, is_package=is_package).decode()


# (module the file is in, before, after); None: a test file.
PAIRS: dict[str, tuple[str | None, str, str]] = {
    "the package itself becomes NAME_api, bound to the old name": (
        None, "import jinja2\n", "import jinja2_api as jinja2\n",
    ),
    "aliased package import": (None, "import jinja2 as j\n", "import jinja2_api as j\n"),
    "chains on an aliased package read the module": (
        None, "import jinja2 as j\nj.nodes.Node\nj.Template\n",
        "import jinja2_api as j, nodes as _jinja2_nodes\n_jinja2_nodes.Node\nj.Template\n",
    ),
    "dotted import binds the package and the module; chains read the module": (
        None,
        "import jinja2.ext\nx = jinja2.ext.Ext\ny = jinja2.Template\n",
        ("import jinja2_api as jinja2, ext, ext as _jinja2_ext\n"
         "x = _jinja2_ext.Ext\ny = jinja2.Template\n"),
    ),
    "aliased dotted import is the module": (
        None, "import jinja2.sub.deep as d\n", "import sub.deep as d\n",
    ),
    "from the package: modules become imports, the rest stays with NAME_api": (
        None,
        "from jinja2 import nodes, Environment as E\n",
        "import nodes; from jinja2_api import Environment as E\n",
    ),
    "from a module": (
        None, "from jinja2.environment import Environment\n",
        "from environment import Environment\n",
    ),
    "star from the package": (None, "from jinja2 import *\n", "from jinja2_api import *\n"),
    "relative import in a module": (
        "jinja2.compiler", "from .environment import Environment\n",
        "from environment import Environment\n",
    ),
    "relative import of a module from the package": (
        "jinja2.compiler", "from . import nodes\n", "import nodes\n",
    ),
    "relative import in the package's __init__": (
        "jinja2", "from .ext import Ext\n", "from ext import Ext\n",
    ),
    "two levels up from a subpackage": (
        "jinja2.sub.mod", "from .. import Template\nfrom ..nodes import Node\n",
        "from jinja2_api import Template\nfrom nodes import Node\n",
    ),
    "relative import inside a subpackage": (
        "jinja2.sub.mod", "from .deep import x\n", "from sub.deep import x\n",
    ),
    "a module shadowing the standard library is renamed, the local name kept": (
        "jinja2.compiler", "from . import types\nfrom .types import T\n",
        "import jinja2_types as types\nfrom jinja2_types import T\n",
    ),
    "patch targets, sys.modules keys and exception text follow the modules": (
        None,
        ('mock.patch("jinja2.environment.Environment.x")\n'
         'sys.modules["jinja2.nodes"]\n'
         'assert text == "jinja2.types.Bad: no"\n'),
        ('mock.patch("environment.Environment.x")\n'
         'sys.modules["nodes"]\n'
         'assert text == "jinja2_types.Bad: no"\n'),
    ),
    "f-string text follows the modules": (
        None, 'f"jinja2.ext.{name}"\n', 'f"ext.{name}"\n',
    ),
    "imports in functions and one-line compound statements": (
        None, "def f():\n    import jinja2.ext; y = 1\n",
        "def f():\n    import jinja2_api as jinja2, ext; y = 1\n",
    ),
}

# Code that must stay byte-identical: no name of the package in a module position.
NOOPS: dict[str, tuple[str | None, str]] = {
    "other packages": (None, "import os, jinja2x\nfrom jinja2x import y\n"),
    "a relative import in a test file stays relative": (None, "from .helpers import x\n"),
    "a name that only shares a prefix": (None, 's = "jinja2x.ext"\nt = "myjinja2.ext"\n'),
    "an attribute of the package that is no module": (None, 's = "jinja2.Template"\n'),
    "a chain on a name that is not the imported package": (None, "x = jinja2.ext.Ext\n"),
    "comments keep their text": (None, "# import jinja2.ext\n"),
}


@pytest.mark.parametrize("case", list(PAIRS))
def test_converts(case: str) -> None:
    module, before, after = PAIRS[case]
    assert convert(before, module, is_package=module == "jinja2") == after


@pytest.mark.parametrize("case", list(NOOPS))
def test_leaves_alone(case: str) -> None:
    module, code = NOOPS[case]
    assert convert(code, module) == code


def test_a_name_the_init_rebinds_stays_with_the_api() -> None:
    init = dedent("""\
        from . import core
        from . import util as util
        from .testing import pyparsing_test as testing
        from .core import *
        common = 1
        def helpers(): ...
    """).encode()
    rebound = rebound_names(init)
    assert {"testing", "common", "helpers"} <= rebound
    assert not {"core", "util"} & rebound
    layout = layout_for("pyparsing", ["testing", "core", "util"], rebound=rebound)
    code = ("import pyparsing\npyparsing.testing.reset()\npyparsing.core.Word\n"
            "from pyparsing import testing, core\n")
    assert convert_source(code.encode(), layout).decode() == (
        "import pyparsing_api as pyparsing, core as _pyparsing_core\n"
        "pyparsing.testing.reset()\n_pyparsing_core.Word\n"
        "import core; from pyparsing_api import testing\n"
    )


def test_renames_only_names_that_shadow() -> None:
    layout = layout_for("click", ["types", "core", "_warnings", "tests"], reserved=["testing"])
    assert dict(layout.renames) == {
        "types": "click_types", "_warnings": "click_warnings", "tests": "click_tests",
    }
    assert layout.bare("click.core.Command") == "core.Command"
    assert layout.bare("click") == "click_api"
    assert layout.bare("click.Command") == "click_api.Command"
    assert layout.bare("clickx.core") is None


def test_tree_layout(tmp_path: Path) -> None:
    root = FIXTURES / "corpus_tiny" / "tiny-1.0"
    bare = convert_tree(root / "src" / "tiny", root / "tests", tmp_path / "bare")
    files = sorted(str(p.relative_to(tmp_path / "bare")) for p in (tmp_path / "bare").rglob("*"))
    assert files == [
        "src", "src/core.py", "src/data.txt", "src/tiny_api.py", "src/tiny_types.py",
        "tests", "tests/test_tiny.py",
    ]
    assert bare.files == 4
    api = (bare.source / "tiny_api.py").read_text()
    assert "import tiny_types as types\nfrom core import greet\n" in api
    test = (bare.tests / "test_tiny.py").read_text()
    assert 'mock.patch("core.greet", return_value="x")' in test
    assert "import tiny_api as tiny, core, core as _tiny_core\n" in test


def tiny_project(*edits: Edit) -> Project:
    return Project(
        name="tiny", version="1.0", sha256="0" * 64, package="src/tiny", tests="tests", keep=(),
        extra_tests=(), pytest_args=(), ini=("xfail_strict = true",), shapes=(), known=(),
        defeated=None, edits=edits,
    )


def test_bare_tree_gets_pytest_ini_and_edits(tmp_path: Path) -> None:
    edit = Edit("src/core.py", '"hi {Name(name)}"', '"hello {Name(name)}"', "why")
    bare = make_bare(tiny_project(edit), FIXTURES / "corpus_tiny" / "tiny-1.0", tmp_path / "b")
    assert (bare.tests / "pytest.ini").read_text() == "[pytest]\nxfail_strict = true\n"
    assert 'return f"hello {Name(name)}"' in (bare.source / "core.py").read_text()


def test_edit_that_does_not_apply_is_one_error(tmp_path: Path) -> None:
    edit = Edit("src/core.py", "no such text", "x", "why")
    with pytest.raises(ToolingError, match=r"tiny: edit of src/core.py: 'no such text' does not "
                       r"occur exactly once in the bare tree; update the edit"):
        make_bare(tiny_project(edit), FIXTURES / "corpus_tiny" / "tiny-1.0", tmp_path / "b")


def junit(tmp_path: Path, name: str, cases: str) -> Path:
    path = tmp_path / name
    path.write_text(f'<testsuites><testsuite name="pytest">{dedent(cases)}</testsuite>'
                    "</testsuites>")
    return path


def test_reads_junit_outcomes(tmp_path: Path) -> None:
    path = junit(tmp_path, "r.xml", """
        <testcase classname="test_a" name="test_ok"/>
        <testcase classname="test_a" name="test_bad[x]"><failure message="no"/></testcase>
        <testcase classname="test_a.T" name="test_skip"><skipped/></testcase>
        <testcase classname="test_a" name="test_teardown"/>
        <testcase classname="test_a" name="test_teardown"><error message="boom"/></testcase>
    """)
    assert read_junit(path) == {
        "test_a::test_ok": Outcome.PASSED,
        "test_a::test_bad[x]": Outcome.FAILED,
        "test_a.T::test_skip": Outcome.SKIPPED,
        "test_a::test_teardown": Outcome.FAILED,
    }


def test_missing_report_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ToolingError, match=r"r\.xml: no readable JUnit report"):
        read_junit(tmp_path / "r.xml")


def test_compare_sorts_known_from_unexplained() -> None:
    passed, failed = Outcome.PASSED, Outcome.FAILED
    bare = {"t::a[x]": passed, "t::b": passed, "t::c": passed, "t::gone": passed}
    after = {"t::a[x]": failed, "t::b": failed, "t::c": passed, "t::new": passed}
    known = (Known("t::a[*]", "module names"), Known("t::zzz", "stale"))
    result = compare(bare, after, known)
    assert [(d.test, d.reason) for d in result.differences] == [
        ("t::a[x]", "module names"), ("t::b", None), ("t::gone", None), ("t::new", None),
    ]
    assert [d.test for d in result.unexplained] == ["t::b", "t::gone", "t::new"]
    assert result.tests == 5
    assert result.unused == (known[1],)


def test_known_patterns_are_literal_but_star() -> None:
    known = Known("t::a[<=]*", "r")
    assert known.matches("t::a[<=]")
    assert known.matches("t::a[<=]-x")
    assert not known.matches("t::a[<]")


def test_checked_in_corpus_loads() -> None:
    projects = load_projects(CORPUS_TOML)
    names = {p.name for p in projects}
    assert {"packaging", "jinja2", "pluggy"} <= names
    assert len([p for p in projects if p.defeated is None]) >= 8
    assert all(k.reason for p in projects for k in p.known)


@pytest.mark.parametrize(("text", "message"), [
    ('[[project]]\nname = "x"\n', r"project\[0\] \(x\): sha256 must be"),
    ('[[project]]\nname = "x"\nversion = "1"\nsha256 = "ab"\npackage = "p"\ntests = "t"\n',
     r"sha256 'ab' is not 64"),
    ('[[project]]\nnaem = "x"\n', r"unknown key `naem`; did you mean `name`\?"),
    ("", r"no \[\[project\]\] tables"),
])
def test_bad_corpus_toml_is_one_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "corpus.toml"
    path.write_text(text)
    with pytest.raises(ToolingError, match=message):
        load_projects(path)


def test_unknown_project_name_lists_the_known() -> None:
    projects = load_projects(CORPUS_TOML)
    with pytest.raises(ToolingError, match=r"no project 'nope'.*choose from .*pluggy"):
        select(projects, ["nope"])


TINY = """\
[[project]]
name = "tiny"
version = "1.0"
sha256 = "{sha}"
package = "src/tiny"
tests = "tests"
{known}
"""
KNOWN = """\
[[project.known]]
test = "test_tiny::test_class_repr"
reason = "a class's repr names its module, which gains the package prefix"
"""


def tiny_corpus(tmp_path: Path, known: str) -> list[str]:
    """A corpus of the tiny fixture release, its sdist already in the cache (no network)."""
    sdist = tmp_path / "tiny-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(FIXTURES / "corpus_tiny" / "tiny-1.0", "tiny-1.0")
    sha = sha256_of(sdist)
    (tmp_path / "cache" / sha).mkdir(parents=True)
    shutil.copy2(sdist, tmp_path / "cache" / sha)
    corpus = tmp_path / "corpus.toml"
    corpus.write_text(TINY.format(sha=sha, known=known))
    return ["--corpus", str(corpus), "--cache", str(tmp_path / "cache"), "--runs", "1",
            "--index-url", "http://127.0.0.1:9/unused"]


def test_defeated_project_is_listed_with_its_reason_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = tiny_corpus(tmp_path, 'defeated = "cycles only a package resolves"\n')
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "defeated: cycles only a package resolves" in out
    assert out.rstrip().endswith(
        "corpus: 0/0 projects, 0 tests, 0 unexplained differences, 1 not convertible (tiny)"
    )


@pytest.mark.slow
def test_tiny_release_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*tiny_corpus(tmp_path, KNOWN), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    (project,) = run["projects"]
    assert project["bare"] == {"passed": 6, "failed": 0, "skipped": 0}
    assert project["rewritten"] == {"passed": 5, "failed": 1, "skipped": 0}
    assert project["differences"] == [{
        "test": "test_tiny::test_class_repr", "bare": "passed", "rewritten": "failed",
        "reason": "a class's repr names its module, which gains the package prefix",
    }]
    assert run["verdict"] == "corpus: 1/1 projects, 6 tests, 0 unexplained differences"


def test_speed_only_prints_timings_and_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*tiny_corpus(tmp_path, ""), "--speed-only"]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[1:3]
    assert header.split() == ["project", "files", "copy", "regex", "rewrite", "rewrite/regex",
                              "rewrite/copy"]
    assert row.split()[:2] == ["tiny", "4"]
    assert "corpus:" not in out


def test_sdist_with_wrong_hash_in_cache_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = tiny_corpus(tmp_path, "")
    (sdist,) = (tmp_path / "cache").glob("*/tiny-1.0.tar.gz")
    sdist.write_bytes(b"tampered")
    # The cached copy no longer matches the pin, so the index is asked (and is unreachable).
    assert main([*args, "--speed-only"]) == 1
    assert "tiny: http://127.0.0.1:9/unused/tiny/: index unreachable" in capsys.readouterr().out


@pytest.mark.slow
def test_unexplained_difference_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(tiny_corpus(tmp_path, "")) == 1
    out = capsys.readouterr().out
    assert "UNEXPLAINED test_tiny::test_class_repr: passed -> failed" in out
    assert out.rstrip().endswith("corpus: 0/1 projects, 6 tests, 1 unexplained differences")
