"""The scrubber: linear in its input, and the same answers as the regex it replaced."""

from __future__ import annotations

import re
import time

import pytest
from helpers import SENTINEL
from hypothesis import given, settings
from hypothesis import strategies as st

from tooling.secrets import redact, register_secret

# The backtracking pattern redact() used to run: the reference for ordinary inputs.
_OLD_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def old_redact(text: str) -> str:
    return _OLD_USERINFO.sub(r"\g<scheme>***@", text)


@pytest.mark.parametrize(
    "text",
    [
        "https://bot:tok3n@git.example.org/org/repo.git",
        "fatal: unable to access 'http://user@127.0.0.1:9/x.git/': refused",
        "git+ssh://git@github.com/o/r and https://a:b@h/p and ftp://h/no-userinfo",
        "http://https://user:pass@host/",
        "no url here: 10:30 @someone a/b",
        "x://@h empty userinfo, 1://u@h digit scheme, ://u@h no scheme",
        "https://u:p@h\nhttps://u2:p2@h2\ttab https://u3@h3",
        "a://b://c@d",
        "mailto:someone@example.org",
    ],
)
def test_userinfo_is_redacted_as_the_old_pattern_did(text: str) -> None:
    assert redact(text) == old_redact(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aZ1+.-:/@ \n\x85\u2003é", max_size=40))
def test_userinfo_redaction_matches_the_old_pattern_on_any_short_text(text: str) -> None:
    assert redact(text) == old_redact(text)


def test_registered_and_environment_secrets_are_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASCADE_TOKEN", SENTINEL)
    register_secret("registered-value-123")
    text = f"token {SENTINEL} and registered-value-123 in https://x:{SENTINEL}@h/"
    assert redact(text) == "token *** and *** in https://***@h/"


def test_a_short_value_is_never_treated_as_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PASSWORD", "ab")
    assert redact("ab cd") == "ab cd"


@pytest.mark.parametrize(
    "unit",
    [
        "a" * 64,             # one long run of scheme characters
        "a://",               # many `://`, each after scheme characters
        "aaaa://bbbb:",       # scheme, `://`, a userinfo that never reaches `@`
        "a:/" * 3 + "a",      # almost `://`, over and over
        "a://b@",             # a userinfo to redact every six characters
        "1://b@",             # the same with no letter in the scheme: nothing to redact
        "a" * 50 + "://" + "b" * 50 + "@",
        "@",
    ],
)
def test_redacting_worst_case_input_grows_linearly_with_its_length(unit: str) -> None:
    # Ten times the text may take about ten times as long; a backtracking pattern took a
    # hundred times as long (quadratic).  Both sizes are timed side by side, best of three,
    # so the machine's load cancels out; `nox -s bench -- redact` prints the absolute figures.
    def best(size: int) -> float:
        text = unit * (size // len(unit))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            redact(text)
            times.append(time.perf_counter() - start)
        return min(times)

    small, large = best(500_000), best(5_000_000)
    assert large < 30 * max(small, 1e-4)


def test_a_long_run_of_scheme_characters_then_userinfo_is_still_redacted() -> None:
    text = "x" * 1_000_000 + "://user:pw@host"
    assert redact(text).endswith("://***@host")
