"""The one version validator and the bump arithmetic (tooling/version.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tooling.errors import ToolingError
from tooling.version import (
    bump_version,
    is_valid_version,
    main,
    parse_bump,
    parse_prerelease,
    release_level,
    validate_version,
)

if TYPE_CHECKING:
    from tooling.version import Bump

MALFORMED = [
    ("v1.2.3", "'v' prefix"),
    ("V1.2.3", "'v' prefix"),
    (" 1.2.3", "whitespace"),
    ("1.2.3 ", "whitespace"),
    ("1.2.3\t", "whitespace"),
    ("1.2.3\n", "more than one line"),
    ("1.2.3\r\n", "more than one line"),
    ("0.1.1000\n# pinned by hand", "more than one line"),
    ("1.2.3\n1.2.4", "more than one line"),
    ("1.2.3 # pinned", "whitespace"),
    ("1. 2.3", "whitespace"),
    ("1.2.3+local", "local version"),
    ("1.2.3+ubuntu.1", "local version"),
    ("1!1.2.3", "epoch"),
    ("1.2", "three parts"),
    ("1", "three parts"),
    ("1.2.3.4", "three parts"),
    ("1.2.3.0", "three parts"),
    ("1..3", "three parts"),
    ("1.2.x", "three parts"),
    ("01.2.3", "leading zero"),
    ("1.02.3", "leading zero"),
    ("1.2.03", "leading zero"),
    ("1.2.3rc01", "leading zero"),
    ("1.2.3rc", "needs its number"),
    ("1.2.3a", "needs its number"),
    ("1.2.3.dev", "needs its number"),
    ("1.2.3.post", "needs its number"),
    ("1.2.3-rc1", "right after X.Y.Z"),
    ("1.2.3.rc1", "right after X.Y.Z"),
    ("1.2.3_rc1", "right after X.Y.Z"),
    ("1.2.3c1", "right after X.Y.Z"),
    ("1.2.3alpha1", "right after X.Y.Z"),
    ("1.2.3beta2", "right after X.Y.Z"),
    ("1.2.3pre1", "right after X.Y.Z"),
    ("1.2.3RC1", "lower case"),
    ("1.2.3.Post1", "lower case"),
    ("1.2.3post1", ".postN"),
    ("1.2.3-post1", ".postN"),
    ("1.2.3-1", ".postN"),
    ("1.2.3dev1", ".devN"),
    ("1.2.3.post1.dev1", "only one of"),
    ("1.2.3rc1.post1", "only one of"),
    ("1.2.3a1.dev1", "only one of"),
    ("1.2.3a1b1", "only one of"),
    ("", "empty"),
    ("latest", "does not start with X.Y.Z"),
    ("-1.2.3", "does not start with X.Y.Z"),
    ("\u0661.2.3", "does not start with X.Y.Z"),
    ("1.2.3.", "unexpected"),
    ("1.2.3rc1-1", "unexpected"),
    ("1.2.3\x00", "unexpected"),
    ("==1.2.3", "does not start with X.Y.Z"),
]


@pytest.mark.parametrize(("value", "reason"), MALFORMED, ids=[repr(v) for v, _ in MALFORMED])
def test_malformed_versions_are_refused_naming_the_value_and_why(value: str, reason: str) -> None:
    with pytest.raises(ToolingError) as caught:
        validate_version(value, where=".runtime-version")
    message = str(caught.value)
    assert message.startswith(".runtime-version: ")
    assert repr(value) in message
    assert reason in message
    assert "\n" not in message
    assert not is_valid_version(value)


def test_there_are_at_least_forty_malformed_cases() -> None:
    assert len(MALFORMED) >= 40


@pytest.mark.parametrize("value", [None, 1.2, 123, b"1.2.3"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(ToolingError, match="not a string"):
        # Deliberately not a str: versions arrive untyped from TOML, JSON and the environment.
        validate_version(value)  # type: ignore[arg-type]


def test_a_very_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ToolingError) as caught:
        validate_version("1.2.3" + "x" * 500)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    "value",
    ["0.0.0", "0.3.0", "1.2.3", "10.20.30", "1.3.0a1", "1.3.0b2", "1.3.0rc1", "1.3.0rc10",
     "1.2.3.post1", "1.2.3.dev0", "2.0.0a0"],
)  # fmt: skip
def test_canonical_versions_are_accepted_unchanged(value: str) -> None:
    assert validate_version(value) == value
    assert is_valid_version(value)


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "major", "2.0.0"),
        ("0.3.0", "minor", "0.4.0"),
        ("0.3.9", "patch", "0.3.10"),
        ("1.2.3.post1", "patch", "1.2.4"),
        ("1.2.4rc1", "minor", "1.3.0"),
        ("1.3.0rc2", "major", "2.0.0"),
        ("1.3.0.dev3", "minor", "1.3.0"),
    ],
)
def test_bump_arithmetic(current: str, bump: Bump, expected: str) -> None:
    assert bump_version(current, bump) == expected


def test_prerelease_then_next_prerelease_then_final() -> None:
    rc1 = bump_version("1.2.3", "minor", prerelease="rc")
    assert rc1 == "1.3.0rc1"
    rc2 = bump_version(rc1, "patch", prerelease="rc")
    assert rc2 == "1.3.0rc2"
    assert bump_version(rc2, "minor") == "1.3.0"
    assert bump_version(rc2, "patch") == "1.3.0"


def test_prereleases_move_forward_from_alpha_to_beta_to_rc() -> None:
    assert bump_version("1.3.0a2", "patch", prerelease="b") == "1.3.0b1"
    assert bump_version("1.3.0b1", "minor", prerelease="rc") == "1.3.0rc1"
    assert bump_version("1.3.0.dev1", "patch", prerelease="a") == "1.3.0a1"


def test_a_prerelease_never_moves_backwards() -> None:
    with pytest.raises(ToolingError, match=r"1\.3\.0rc1 is already at rc.*a -> b -> rc"):
        bump_version("1.3.0rc1", "patch", prerelease="a")
    with pytest.raises(ToolingError, match="already at b"):
        bump_version("1.3.0b1", "minor", prerelease="a")


def test_a_bump_above_the_prerelease_line_starts_a_new_line() -> None:
    assert bump_version("1.3.0rc1", "major", prerelease="a") == "2.0.0a1"
    assert bump_version("1.2.4b1", "minor", prerelease="rc") == "1.3.0rc1"


def test_release_level_is_measured_from_the_last_final() -> None:
    assert release_level("1.3.0rc1", "patch") == "minor"
    assert release_level("2.0.0rc1", "minor") == "major"
    assert release_level("1.3.0rc1", "major") == "major"
    assert release_level("1.2.3", "patch") == "patch"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("major", "major"), ("Minor", "minor"), (" patch ", "patch"), ("release:minor", "minor"),
     ("release:major", "major")],
)  # fmt: skip
def test_bump_names_and_the_pr_label_form_are_read(value: str, expected: str) -> None:
    assert parse_bump(value) == expected


@pytest.mark.parametrize("value", ["", "huge", "release:", "prerelease", "1"])
def test_unknown_bumps_are_refused_naming_the_source(value: str) -> None:
    with pytest.raises(ToolingError, match=r"^RELEASE_BUMP: .* is not a bump; use major"):
        parse_bump(value, where="RELEASE_BUMP")


def test_prerelease_kinds() -> None:
    assert parse_prerelease("rc") == "rc"
    assert parse_prerelease("alpha") == "a"
    assert parse_prerelease(None) is None
    with pytest.raises(ToolingError, match="--prerelease: 'dev' is not a pre-release kind"):
        parse_prerelease("dev")


def test_bump_refuses_an_invalid_current_version() -> None:
    with pytest.raises(ToolingError, match=r"current version: 'v1\.2\.3'"):
        bump_version("v1.2.3", "patch")


def test_cli_checks_and_bumps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "1.2.3", "1.3.0rc1"]) == 0
    assert main(["check", "1.2.3", "1.2"]) == 1
    assert "error: argument: '1.2' is not a release version" in capsys.readouterr().err
    assert main(["bump", "1.2.3", "minor", "--prerelease", "rc"]) == 0
    assert capsys.readouterr().out.strip() == "1.3.0rc1"


def test_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tooling.version", "check", "v1.0.0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "'v1.0.0' is not a release version" in done.stderr
