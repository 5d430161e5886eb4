"""The output sink: what a command prints is scrubbed of secrets once, on the way out."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
from helpers import SENTINEL

from tooling.cli import RedactingWriter, guarded, redacting_output
from tooling.errors import ToolingError
from tooling.secrets import register_secret

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


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
