"""The smoke's workspace-test verdict: JUnit outcomes, the comparison, settings and deptry."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.rewrite import PytestConfig
from tooling.secrets import redact
from tooling.smoke.deps import guarded_modules
from tooling.smoke.layout import _write_ini
from tooling.smoke.settings import load_settings, masked_env
from tooling.smoke.testrun import (
    Outcome,
    TestCase,
    TestRun,
    compare_runs,
    merge_args,
    parse_junit,
    verdict_json,
)

if TYPE_CHECKING:
    from pathlib import Path

TESTS = {
    "test_good.py": textwrap.dedent("""
        import pytest

        def test_ok(): pass

        @pytest.mark.xfail
        def test_xf(): assert 0

        def test_f(): assert 0, "boom"

        @pytest.fixture
        def fx(): raise RuntimeError("setup broke")

        def test_e(fx): pass

        class TestK:
            def test_m(self): pytest.skip("nah")
    """),
    "test_bad.py": "import nope\n",
}


def junit_of(tmp_path: Path) -> Path:
    tests = tmp_path / "tests"
    tests.mkdir()
    for name, text in TESTS.items():
        (tests / name).write_text(text)
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "--continue-on-collection-errors", f"--junitxml={report}",
         "-o", "junit_family=xunit2", "tests"],
        cwd=tmp_path, capture_output=True, check=False, timeout=120,
    )
    return report


def test_outcomes_are_read_from_the_junit_report(tmp_path: Path) -> None:
    cases = {c.test_id: (c.outcome, c.first_line) for c in parse_junit(junit_of(tmp_path))}
    assert cases == {
        "tests.test_bad": (Outcome.NOT_COLLECTED, "ModuleNotFoundError: No module named 'nope'"),
        "tests.test_good::test_ok": (Outcome.PASSED, ""),
        "tests.test_good::test_xf": (Outcome.XFAILED, ""),
        "tests.test_good::test_f": (Outcome.FAILED, "AssertionError: boom"),
        "tests.test_good::test_e": (Outcome.ERROR,
                                    'failed on setup with "RuntimeError: setup broke"'),
        "tests.test_good.TestK::test_m": (Outcome.SKIPPED, "nah"),
    }


def run(layout: str, *cases: tuple[str, Outcome]) -> TestRun:
    return TestRun(layout, tuple(TestCase(t, o, f"{t} {o.value}") for t, o in cases), 1)


def test_a_test_passing_only_on_the_source_layout_fails_the_verdict() -> None:
    source = run("source", ("m::a", Outcome.PASSED), ("m::b", Outcome.FAILED),
                 ("gone::c", Outcome.PASSED), ("m::d", Outcome.PASSED))
    wheel = run("wheel", ("m::a", Outcome.FAILED), ("m::b", Outcome.FAILED),
                ("gone", Outcome.NOT_COLLECTED), ("m::d", Outcome.PASSED))
    verdict = compare_runs(wheel, source, must_pass=False)
    assert not verdict.ok
    assert verdict.failures == (
        "m::a: passes on the source layout, failed against the wheel: m::a failed",
        ("gone::c: passes on the source layout, not-collected against the wheel: "
        "gone not-collected"),
    )
    assert [c.test_id for c in verdict.own_failures] == ["m::b"]
    data = verdict_json(verdict)
    assert data["source"] == {"counts": {"passed": 3, "failed": 1, "errors": 0, "skipped": 0,
                                         "xfailed": 0, "not-collected": 0}, "problem": ""}
    only = data["only_failing_against_wheel"]
    assert isinstance(only, list)
    assert [c["test"] for c in only] == ["m::a", "gone::c"]


@pytest.mark.parametrize(("must_pass", "ok"), [(True, False), (False, True)])
def test_tests_failing_in_both_layouts_fail_only_with_tests_must_pass(
    *, must_pass: bool, ok: bool
) -> None:
    both = ("m::b", Outcome.FAILED)
    verdict = compare_runs(run("wheel", both), run("source", both), must_pass=must_pass)
    assert verdict.ok is ok
    assert verdict.detail.startswith("wheel: 1 failed; source: 1 failed; 0 only failing "
                                     "against the wheel, 1 failing in both")


def test_without_a_source_run_every_wheel_failure_counts() -> None:
    verdict = compare_runs(run("wheel", ("m::a", Outcome.FAILED)), None, must_pass=False)
    assert not verdict.ok
    assert verdict.failures == ("m::a: failed: m::a failed",)


@pytest.mark.parametrize(
    ("addopts", "extra", "merged"),
    [(["-q", "-ra"], ["-q", "-x"], ("-x",)), (["-qq"], ["--quiet"], ()),
     (["-ra"], ["-q"], ("-q",))],
)
def test_quiet_is_never_doubled(
    addopts: list[str], extra: list[str], merged: tuple[str, ...]
) -> None:
    assert merge_args(addopts, extra) == merged


def test_the_derived_pytest_config_drops_coverage_and_source_paths(tmp_path: Path) -> None:
    config = PytestConfig(tmp_path / "pytest.ini", {
        "addopts": "-q --cov=. --cov-fail-under=86 --rootdir=.. -ra",
        "testpaths": "tests", "pythonpath": ".", "xfail_strict": "true",
        "required_plugins": "pytest-cov>=4 pytest-timeout",
        "markers": ("slow: slow", "net: network"),
    })
    _write_ini(tmp_path / "out.ini", config, [tmp_path / "helpers"])
    text = (tmp_path / "out.ini").read_text()
    assert text == (
        "[pytest]\nxfail_strict = true\nrequired_plugins = pytest-timeout\n"
        "markers = slow: slow\n\tnet: network\naddopts = -q -ra\n"
        f"pythonpath = {tmp_path / 'helpers'}\n\n"
    )


def smoke_project(tmp_path: Path, smoke_table: str) -> Path:
    (tmp_path / "ws").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1.0.0"\n[tool.runtime-build]\nsource = "ws"\n'
        f"[tool.runtime-build.smoke]\n{smoke_table}\n"
    )
    return tmp_path


def test_smoke_env_is_read_and_secret_looking_values_are_masked(
    tmp_path: Path, sentinel: str
) -> None:
    root = smoke_project(tmp_path, f'env = {{ WORKSPACE_ID = "w1", API_TOKEN = "{sentinel}" }}')
    settings = load_settings(load_config(root))
    assert settings.env == {"WORKSPACE_ID": "w1", "API_TOKEN": sentinel}
    assert masked_env(settings.env) == {"API_TOKEN": "****", "WORKSPACE_ID": "w1"}
    assert sentinel not in redact(f"leaked {sentinel}")
    assert settings.tests_must_pass is True


@pytest.mark.parametrize(
    ("table", "message"),
    [('env = { 1X = "a" }', '`env` must be a table of NAME = "value" strings'),
     ("env = { A = 1 }", '`env` must be a table of NAME = "value" strings'),
     ('optional-imports = ["a-b"]', "`optional-imports` must be a list of top-level module"),
     ('tests-must-pass = "yes"', "`tests-must-pass` must be true or false")],
)
def test_bad_smoke_settings_name_their_key(tmp_path: Path, table: str, message: str) -> None:
    root = smoke_project(tmp_path, table)
    with pytest.raises(ToolingError, match=r"\[tool\.runtime-build\.smoke\]: ") as info:
        load_settings(load_config(root))
    assert message in str(info.value)


def test_guarded_and_type_checking_imports_are_optional() -> None:
    code = textwrap.dedent("""
        from typing import TYPE_CHECKING
        import requests
        try:
            import orjson
        except ImportError:
            orjson = None
        try:
            from yaml import safe_load
        except (ValueError, ModuleNotFoundError):
            pass
        try:
            import lxml
        except ValueError:
            pass
        if TYPE_CHECKING:
            import numpy as np
    """).encode()
    found = guarded_modules({"m.py": code})
    assert [(g.file, g.line, g.module) for g in found] == [
        ("m.py", 5, "orjson"), ("m.py", 9, "yaml"), ("m.py", 17, "numpy"),
    ]
