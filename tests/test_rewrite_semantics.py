"""Rewritten code behaves: run it in `python -I` with only OUT on sys.path, outside SRC."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tooling.rewrite import rewrite_tree

FIXTURE = Path(__file__).parent / "fixtures" / "rewrite-tree"
PKG = "molecule_runtime"


def run_isolated(code: str, *paths: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in an isolated interpreter whose sys.path starts with ``paths`` only."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    return subprocess.run(
        [sys.executable, "-I", "-W", "error", "-c", prelude + textwrap.dedent(code)],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def fixture_out(tmp_path: Path) -> tuple[Path, Path, Path]:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "src", src)
    out, tests_out = tmp_path / "out", tmp_path / "tests-out"
    rewrite_tree(src, PKG, out, tests=src / "tests", tests_out=tests_out,
                 exclude=["tests", "scripts"], jobs=1)
    (tmp_path / "elsewhere").mkdir()
    return out, tests_out, tmp_path / "elsewhere"


def test_rewritten_runtime_runs_and_bare_modules_are_gone(
    fixture_out: tuple[Path, Path, Path],
) -> None:
    out, _, cwd = fixture_out
    proc = run_isolated(
        f"""
        import importlib.util
        import {PKG}.main as main
        assert main.main_sync() == 0
        # `import builtin_tools.memory` bound the package, with the submodule loaded.
        import {PKG}.builtin_tools as tools
        assert main.builtin_tools is tools and main.builtin_tools.memory.store
        # f"adapters.{{name}}" reaches the namespaced adapter.
        assert main.get_adapter("demo").__module__ == "{PKG}.adapters.demo"
        for bare in ("main", "config", "builtin_tools", "adapters", "heartbeat"):
            assert importlib.util.find_spec(bare) is None, bare
        print("ok")
        """,
        out, cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_binding_semantics_of_each_import_form(tmp_path: Path) -> None:
    src = write(tmp_path / "src", {
        "a/__init__.py": "",
        "a/b.py": "x = 1\n",
        "a/c/__init__.py": "",
        "a/c/d.py": "y = 2\n",
        "user.py": """\
            import a.b
            import a.c.d
            import a.b as sub
            import a, os, json
            VALUE = a.b.x + a.c.d.y
            def lazy():
                import a.b
                return a
        """,
    })
    rewrite_tree(src, PKG, tmp_path / "out", jobs=1)
    proc = run_isolated(
        f"""
        import os, json
        import {PKG}.user as user, {PKG}.a as a, {PKG}.a.b as b
        assert user.VALUE == 3
        assert user.a is a and user.sub is b and user.os is os and user.json is json
        assert user.lazy() is a
        assert "{PKG}" not in vars(user), "no new name may be bound"
        print("ok")
        """,
        tmp_path / "out", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr


def test_sys_modules_pop_then_import_gives_a_fresh_module(tmp_path: Path) -> None:
    src = write(tmp_path / "src", {
        "settings.py": "import os\nMODE = os.environ.get('MODE', 'a')\n",
        "probe.py": """\
            import os, sys
            import settings
            first = settings
            os.environ["MODE"] = "b"
            sys.modules.pop("settings")
            import settings
            assert settings is not first and settings.MODE == "b"
            fake = type(sys)("settings")
            fake.MODE = "fake"
            sys.modules["settings"] = fake
            from settings import MODE
            assert MODE == "fake"
            assert "settings" in sys.modules
        """,
    })
    rewrite_tree(src, PKG, tmp_path / "out", jobs=1)
    proc = run_isolated(f"import {PKG}.probe\nprint('ok')", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_rewritten_tests_pass_against_the_package(fixture_out: tuple[Path, Path, Path]) -> None:
    out, tests_out, cwd = fixture_out
    proc = run_isolated(
        "import pytest\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(tests_out)!r}]))",
        out, cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_compat_alias_is_the_same_module_and_warns_once(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "src", src)
    rewrite_tree(src, PKG, tmp_path / "out", exclude=["tests", "scripts"],
                 aliases=["plugins_registry"], jobs=1)
    proc = run_isolated(
        f"""
        import warnings
        import {PKG}
        import {PKG}.plugins_registry.protocol as real
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import plugins_registry.protocol as legacy
            from plugins_registry import protocol
            import plugins_registry
        assert legacy is real and protocol is real
        assert plugins_registry is {PKG}.plugins_registry
        assert real.__spec__.name == "{PKG}.plugins_registry.protocol"
        assert [w.category for w in caught] == [DeprecationWarning], caught
        assert "plugins_registry" in str(caught[0].message)
        import importlib.util
        assert importlib.util.find_spec("config") is None, "only listed names are aliased"
        print("ok")
        """,
        tmp_path / "out", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr


def test_compat_aliases_are_off_by_default(fixture_out: tuple[Path, Path, Path]) -> None:
    out, _, cwd = fixture_out
    assert not (out / PKG / "_compat_aliases.py").exists()
    proc = run_isolated(
        f"import {PKG}, importlib.util\n"
        "assert importlib.util.find_spec('plugins_registry') is None",
        out, cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr


# A workspace and its tests using the module references real suites use beyond imports:
# logger names, pytest_plugins, `python -c` code, constant variables, pkgutil prefixes,
# __name__ checks.  The suite must give the same per-test results on both layouts.
TRICKY: dict[str, str] = {
    "heartbeat.py": """\
        import logging
        log = logging.getLogger(__name__)
        def beat():
            log.info("beat")
            return "beat"
        """,
    "adapters/__init__.py": "",
    "adapters/echo.py": "NAME = 'echo'\n",
    "adapters/fixtures.py": """\
        import pytest
        @pytest.fixture
        def adapter_name():
            return "echo"
        """,
    "registry.py": """\
        import pkgutil
        import adapters
        def names():
            return sorted(m.name for m in pkgutil.iter_modules(adapters.__path__, "adapters."))
        def is_registry():
            return __name__ == "registry"
        """,
    "tests/conftest.py": 'pytest_plugins = ["adapters.fixtures"]\n',
    "tests/test_tricky.py": """\
        import logging
        import subprocess
        import sys
        import types
        import heartbeat
        import registry

        def test_caplog_on_the_module_logger(caplog):
            caplog.set_level(logging.INFO, logger="heartbeat")
            heartbeat.beat()
            assert "beat" in caplog.text

        def test_plugin_fixture(adapter_name):
            assert adapter_name == "echo"

        def test_python_c(tmp_path):
            argv = [sys.executable, "-c", "import heartbeat; print(heartbeat.beat())"]
            proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
            assert proc.stdout == "beat\\n", proc.stderr

        def test_stub_through_a_constant(monkeypatch):
            name = "heartbeat"
            stub = types.ModuleType(name)
            stub.beat = lambda: "stub"
            monkeypatch.setitem(sys.modules, name, stub)
            import heartbeat as again
            assert again.beat() == "stub"

        def test_pkgutil_prefix_names_importable_modules():
            import importlib
            assert importlib.import_module(registry.names()[0]).NAME == "echo"

        def test_name_check():
            assert registry.is_registry()
        """,
}


def _results(stdout: str) -> list[str]:
    return sorted(line.split(" - ")[0].rsplit("::", 1)[-1] + " " + line.split()[0]
                  for line in stdout.splitlines() if line.startswith(("PASSED", "FAILED")))


def test_tricky_references_pass_on_both_layouts_alike(tmp_path: Path) -> None:
    src = write(tmp_path / "src", TRICKY)
    pytest_args = "['-q', '-rA', '-p', 'no:cacheprovider', '-W', 'error', '{}']"
    # Source layout: the bare tree on sys.path, as `cd workspace && pytest` has it.
    env_code = "import os; os.environ['PYTHONPATH'] = {!r}\n"
    bare = run_isolated(env_code.format(str(src)) + "import pytest\nsys.exit(pytest.main("
                        + pytest_args.format(src / "tests") + "))", src, cwd=src)
    out, tests_out = tmp_path / "out", tmp_path / "tests-out"
    rewrite_tree(src, PKG, out, tests=src / "tests", tests_out=tests_out, exclude=["tests"],
                 jobs=1)
    (tmp_path / "elsewhere").mkdir()
    rewritten = run_isolated(env_code.format(str(out)) + "import pytest\nsys.exit(pytest.main("
                             + pytest_args.format(tests_out) + "))", out,
                             cwd=tmp_path / "elsewhere")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert rewritten.returncode == 0, rewritten.stdout + rewritten.stderr
    assert _results(bare.stdout) == _results(rewritten.stdout)
    assert len(_results(rewritten.stdout)) == 6
