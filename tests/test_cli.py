"""The output sink: secrets scrubbed once on the way out; every failure one ``error:`` line."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
import pytest
from helpers import REPO_ROOT, SENTINEL, copy_fixture
from invoke.context import Context
from invoke.exceptions import Exit

import tasks
from tooling.cli import DEBUG_ENV, RedactingWriter, guarded, redacting_output, step
from tooling.errors import ToolingError
from tooling.secrets import register_secret

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def test_a_secret_printed_by_a_command_never_reaches_its_streams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_secret(SENTINEL)

    def work() -> int:
        print(f"token is {SENTINEL}")
        print(f"remote https://bot:{SENTINEL}@git.example.org/x.git", file=sys.stderr)
        return 0

    assert guarded(work) == 0
    out, err = capsys.readouterr()
    assert SENTINEL not in out + err
    assert out == "token is ***\n"
    assert err == "remote https://***@git.example.org/x.git\n"


def test_a_secret_written_in_pieces_is_still_seen_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_secret(SENTINEL)
    half = len(SENTINEL) // 2
    with redacting_output():
        sys.stdout.write("a " + SENTINEL[:half])
        sys.stdout.write(SENTINEL[half:] + " b\nnext")
    out, _ = capsys.readouterr()
    assert out == "a *** b\nnext"


def test_an_error_message_is_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret(SENTINEL)

    def work() -> int:
        raise ToolingError(f"push to https://x:{SENTINEL}@h/r.git refused; check the token")

    assert guarded(work) == 1
    _, err = capsys.readouterr()
    assert SENTINEL not in err
    assert err.startswith("error: push to https://***@h/r.git refused")


def test_nested_sinks_do_not_wrap_twice(capsys: pytest.CaptureFixture[str]) -> None:
    with redacting_output():
        outer = sys.stdout
        with redacting_output():
            assert sys.stdout is outer
        print("done")
    assert isinstance(outer, RedactingWriter)
    assert capsys.readouterr().out == "done\n"


def test_a_secret_from_the_environment_is_scrubbed_in_a_real_process(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from tooling.cli import guarded\n"
        "def work():\n"
        "    print('value:', os.environ['CASCADE_TOKEN'])\n"
        "    sys.stderr.write(os.environ['CASCADE_TOKEN'][:3])\n"
        "    sys.stderr.write(os.environ['CASCADE_TOKEN'][3:])\n"
        "    return 0\n"
        "sys.exit(guarded(work))\n"
    )
    env = {**helpers.isolated_env(tmp_path / "home"), "CASCADE_TOKEN": SENTINEL}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=helpers.REPO_ROOT, env=env,
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0
    assert SENTINEL not in done.stdout + done.stderr
    assert done.stdout == "value: ***\n"
    assert done.stderr == "***"


def _boom(*_args: object, **_kwargs: object) -> object:
    message = "boom: an internal bug"
    raise RuntimeError(message)


def error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error:")]


def test_an_unexpected_error_is_one_line_naming_the_step_and_the_file(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def work() -> int:
        with step("build"):
            _boom()
        return 0

    assert guarded(work) == 1
    err = capfd.readouterr().err
    (line,) = error_lines(err)
    assert "in step 'build'" in line
    assert "RuntimeError: boom: an internal bug" in line
    assert "test_cli.py:" in line
    assert f"{DEBUG_ENV}=1" in line
    assert "Traceback" not in err


def test_with_debug_the_traceback_is_shown_too(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")
    assert guarded(lambda: int(_boom())) == 1  # type: ignore[call-overload]
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert len(error_lines(err)) == 1


def test_a_tooling_error_stays_its_own_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        raise ToolingError("pyproject.toml: bad; fix it", exit_code=2)

    assert guarded(work) == 2
    assert capfd.readouterr().err == "error: pyproject.toml: bad; fix it\n"


# Each invoke task, driven into an internal error in what it reads first.
_TASKS: list[tuple[str, Callable[[Context], None]]] = [
    ("release", lambda c: tasks.release(c, yes=True)),
    ("release --dry-run", lambda c: tasks.release(c, dry_run=True)),
    ("tag", tasks.tag),
    ("publish", tasks.publish),
    ("cascade", tasks.cascade),
    ("converge", tasks.converge),
    ("drift", tasks.drift),
    ("versions", tasks.versions),
    ("compat", tasks.compat),
    ("workflows", lambda c: tasks.workflows(c, check=True)),
]


@pytest.mark.parametrize(("name", "call"), _TASKS, ids=[n for n, _ in _TASKS])
def test_every_task_turns_an_internal_error_into_one_error_line(
    name: str,
    call: Callable[[Context], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project = copy_fixture("release-project", tmp_path / "project")
    (project / "consumers.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(project)
    # The bug: reading the project's settings (every task) or its consumers crashes.
    monkeypatch.setattr("tooling.config.read_pyproject", _boom)
    monkeypatch.setattr("tooling.cascade.consumers.parse_consumers", _boom)
    with pytest.raises(Exit) as info:
        call(Context())
    assert info.value.code == 1, name
    err = capfd.readouterr().err
    assert "Traceback" not in err, name
    (line,) = error_lines(err)
    assert "unexpected error" in line
    assert "RuntimeError: boom: an internal bug" in line
    assert ".py:" in line  # the file and line it came from


@pytest.mark.parametrize(
    ("call", "flag"),
    [
        (lambda c: tasks.release(c, yes=True, bump=""), "--bump"),
        (lambda c: tasks.release(c, yes=True, prerelease=""), "--prerelease"),
        (lambda c: tasks.release(c, dry_run=True, bump="  "), "--bump"),
        (lambda c: tasks.cascade(c, version=""), "--version"),
        (lambda c: tasks.converge(c, version=""), "--version"),
        (lambda c: tasks.drift(c, org=""), "--org"),
        (lambda c: tasks.compat(c, check=""), "--check"),
    ],
)
def test_an_explicit_empty_value_is_refused_never_taken_as_the_default(
    call: Callable[[Context], None], flag: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    # `--version "$VERSION"` with VERSION unset must not cascade pyproject's version.
    project = copy_fixture("release-project", tmp_path / "project")
    monkeypatch.chdir(project)
    with pytest.raises(Exit):
        call(Context())
    (line,) = error_lines(capfd.readouterr().err)
    assert line.startswith(f"error: {flag}: an empty value was given")


def test_python_m_cascade_refuses_an_empty_version_too(tmp_path: Path) -> None:
    project = copy_fixture("release-project", tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "-m", "tooling.cascade", "cascade", "--version", "",
         "--consumers", str(project / "consumers.toml")],
        cwd=project, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "--version" in done.stderr
    assert "Traceback" not in done.stderr


def test_release_main_has_debug_and_shows_the_traceback_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from tooling.release.run import main

    project = copy_fixture("release-project", tmp_path / "project")
    monkeypatch.chdir(project)
    monkeypatch.setattr("tooling.config.read_pyproject", _boom)
    assert main(["--dry-run"]) == 1
    assert "Traceback" not in capfd.readouterr().err
    assert main(["--dry-run", "--debug"]) == 1
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert len(error_lines(err)) == 1
