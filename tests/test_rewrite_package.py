"""The package keeps bare-module semantics: PKG.<name> is sys.modules["PKG.<name>"].

The same scenario (tests/fixtures/rewrite-sysmodules/scenario) runs on the source layout and,
rewritten, against the package; both print what they observe and the lines must be equal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tooling.rewrite import rewrite_tree
from tooling.rewrite._package import hook_block

FIXTURE = Path(__file__).parent / "fixtures" / "rewrite-sysmodules"
PKG = "molecule_runtime"
# The import system differs between versions (IMPORT_FROM, setattr on the parent): try each.
PYTHONS = [
    sys.executable,
    *(
        str(path)
        for path in (
            Path.home() / ".pyenv/versions/3.12.1/bin/python3.12",
            Path.home() / ".pyenv/versions/3.13.0/bin/python3.13",
        )
        if path.exists()
    ),
]
# The build appends this kind of block to the generated __init__ (tooling/build/stage.py).
VERSION_BLOCK = (
    '\n# Added by the build\ntry:\n    __version__ = "1.2.3"\nexcept ImportError:\n    pass\n'
)


def run_isolated(python: str, code: str, *paths: Path, cwd: Path) -> str:
    """Run ``code`` under ``python -I`` with only ``paths`` in front of sys.path; its stdout."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    proc = subprocess.run(
        [python, "-I", "-W", "error", "-c", prelude + textwrap.dedent(code)],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def rewrite_fixture(tmp_path: Path, init: str | None = None) -> tuple[Path, Path, Path]:
    """Copy the fixture (with a source ``__init__.py`` if given), rewrite; (src, out, tests)."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "src", src)
    if init is not None:
        (src / "__init__.py").write_bytes(init.encode("latin-1"))
    out, tests_out = tmp_path / "out", tmp_path / "tests-out"
    rewrite_tree(src, PKG, out, tests=FIXTURE / "scenario", tests_out=tests_out, jobs=1)
    return src, out, tests_out


OWN_INIT = textwrap.dedent('''\
    # -*- coding: latin-1 -*-
    """The runtime's own package docstring: caf\xe9."""
    from __future__ import annotations

    import settings

    NOTE = settings.MODE


    def __getattr__(name):
        if name == "lazy":
            return "from the package's own __getattr__"
        raise AttributeError(name)''')


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: Path(p).name)
@pytest.mark.parametrize("init", [None, OWN_INIT], ids=["generated-init", "own-init"])
def test_sys_modules_scenario_behaves_as_on_the_source_layout(
    tmp_path: Path, python: str, init: str | None
) -> None:
    src, out, tests_out = rewrite_fixture(tmp_path, init)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    on_source = run_isolated(python, "import scenario", src, FIXTURE / "scenario", cwd=cwd)
    rewritten = run_isolated(python, "import scenario", out, tests_out, cwd=cwd)
    assert rewritten == on_source
    # The scenario really exercises the stub cases (a no-op scenario would compare equal too).
    assert "import after stub: 'stub'" in on_source
    assert "monkeypatch.setattr patches the stub: ('monkeypatched', 'real')" in on_source \
        or python != sys.executable


def test_other_package_attributes_are_stored_and_read_normally(tmp_path: Path) -> None:
    _, out, _ = rewrite_fixture(tmp_path, OWN_INIT)
    init = out / PKG / "__init__.py"
    init.write_bytes(init.read_bytes() + VERSION_BLOCK.encode())
    observed = run_isolated(
        sys.executable,
        f"""
        import importlib, sys, types
        import {PKG} as pkg
        assert isinstance(pkg, types.ModuleType)
        assert pkg.__version__ == "1.2.3" and pkg.NOTE == "real"
        assert pkg.lazy == "from the package's own __getattr__"
        pkg.extra = 1
        assert pkg.extra == 1 and vars(pkg)["extra"] == 1
        del pkg.extra
        assert not hasattr(pkg, "extra")
        # A workspace name is whatever sys.modules holds, and setattr cannot hide it.
        assert pkg.settings is sys.modules["{PKG}.settings"]
        pkg.settings = "ignored"
        assert pkg.settings is sys.modules["{PKG}.settings"]
        assert not hasattr(pkg, "tools") and "tools" not in dir(pkg)
        import {PKG}.tools.memory
        assert "tools" in dir(pkg) and "NOTE" in dir(pkg)
        try:
            pkg.missing
        except AttributeError as exc:
            assert str(exc) == "missing", "the package's own __getattr__ decides"
        kind = type(pkg)
        assert importlib.reload(pkg) is pkg and type(pkg) is kind
        assert pkg.__version__ == "1.2.3"
        print("ok")
        """,
        out, cwd=tmp_path,
    )
    assert observed == "ok\n"


def test_an_existing_init_keeps_its_bytes_and_gets_the_hook_appended(tmp_path: Path) -> None:
    src, out, _ = rewrite_fixture(tmp_path, OWN_INIT.replace("\n", "\r\n"))
    original = (src / "__init__.py").read_bytes()
    shipped = (out / PKG / "__init__.py").read_bytes()
    # Only the bare import inside it is rewritten; everything before the hook is the source's.
    expected_head = original.replace(b"import settings", f"import {PKG}.settings as settings"
                                     .encode(), 1)
    assert shipped.startswith(expected_head + b"\r\n")
    hook = hook_block(["consumer", "settings", "tools"], "\r\n").encode()
    assert shipped == expected_head + b"\r\n\r\n" + hook
    assert b"\n" not in shipped.replace(b"\r\n", b"")
    compile(shipped + VERSION_BLOCK.encode(), "__init__.py", "exec")


def test_excluded_top_level_names_get_no_hook_entry(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "src", src)
    rewrite_tree(src, PKG, tmp_path / "out", exclude=["tools"], jobs=1)
    init = (tmp_path / "out" / PKG / "__init__.py").read_text(encoding="utf-8")
    assert "    'consumer',\n    'settings',\n))" in init
    assert init.endswith("del _bare_module_semantics\n")
    observed = run_isolated(
        sys.executable,
        f"""
        import {PKG} as pkg
        assert not hasattr(pkg, "settings"), "not imported yet"
        import {PKG}.consumer
        assert pkg.settings.MODE == "real"
        for name in ("tools", "missing"):
            try:
                getattr(pkg, name)
            except AttributeError as exc:
                assert str(exc) == f"module '{PKG}' has no attribute '{{name}}'", exc
        print("ok")
        """,
        tmp_path / "out", cwd=tmp_path,
    )
    assert observed == "ok\n"


@pytest.mark.xfail(
    strict=True,
    reason="`import a.b` becomes `import PKG.a.b as a, PKG.a as a`, whose IMPORT_FROM of `b` "
    "on a stub of `a` without `b` falls back to sys.modules via the stub's __name__",
)
def test_import_a_b_with_a_nameless_stub_of_the_package(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "src", src)
    scenario = tmp_path / "scenario"
    scenario.mkdir()
    (scenario / "nameless.py").write_text(textwrap.dedent("""\
        import sys
        import types
        import tools.memory
        sys.modules["tools"] = types.SimpleNamespace()
        try:
            import tools.memory
        except ImportError as exc:
            print(type(exc).__name__)
        else:
            print(type(tools).__name__)
        """))
    out, tests_out = tmp_path / "out", tmp_path / "tests-out"
    rewrite_tree(src, PKG, out, tests=scenario, tests_out=tests_out, jobs=1)
    on_source = run_isolated(sys.executable, "import nameless", src, scenario, cwd=tmp_path)
    assert on_source == "SimpleNamespace\n"
    assert run_isolated(sys.executable, "import nameless", out, tests_out, cwd=tmp_path) == (
        on_source
    )
