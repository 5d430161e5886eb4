from __future__ import annotations

import io
import logging

import pytest

from platform_auth import PlatformToken, TokenError, auth_headers, install_redaction, load_token


def test_token_from_the_environment_wins_over_the_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    token = load_token(token_file, env={"MOLECULE_PLATFORM_TOKEN": "from-env"})
    assert (token.value, token.origin) == ("from-env", "MOLECULE_PLATFORM_TOKEN")


def test_token_file_is_read_and_stripped(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("  s3cret-value \n")
    token_file.chmod(0o600)
    token = load_token(token_file, env={})
    assert token.value == "s3cret-value"
    assert auth_headers(token) == {"Authorization": "Bearer s3cret-value"}


def test_no_token_means_no_auth_header():
    assert load_token(None, env={}) is None
    assert auth_headers(None) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("", "exactly one non-empty line"), ("a\nb\n", "exactly one")],
)
def test_unusable_token_file_names_the_file_not_the_token(tmp_path, content, message):
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    with pytest.raises(TokenError, match=message) as info:
        load_token(token_file, env={})
    assert str(info.value).startswith(
        f"token_file: {token_file}" if content is not None else "token_file: cannot read"
    )
    assert "\nb" not in str(info.value)


def test_group_readable_token_file_is_warned_about(tmp_path, caplog):
    token_file = tmp_path / "token"
    token_file.write_text("abc")
    token_file.chmod(0o644)
    load_token(token_file, env={})
    assert "readable by others; chmod 600" in caplog.text
    assert "abc" not in caplog.text


def test_token_never_shows_in_repr_str_or_logs():
    token = PlatformToken("hunter2-token", "MOLECULE_PLATFORM_TOKEN")
    assert "hunter2" not in repr(token)
    assert "hunter2" not in str(token)
    logger = logging.getLogger("test_platform_auth.redaction")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        install_redaction(token, logger)
        logger.warning("calling with %s", token.value)
        logger.warning("header Bearer hunter2-token")
    finally:
        logger.removeHandler(handler)
    assert "hunter2" not in stream.getvalue()
    assert stream.getvalue().count("***") == 2
