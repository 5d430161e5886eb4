"""How the cascade runs git: a token through a credential helper, never a prompt.

`CASCADE_TOKEN` reaches git through a credential helper that reads it from the environment at
the moment git asks: never an argument, never part of a URL, scrubbed from every message.
"""

from __future__ import annotations

import os
from pathlib import Path

from tooling.gitauth import append_config_env
from tooling.secrets import register_secret

__all__ = ["GIT_TIMEOUT", "NO_TOKEN", "cascade_token", "fail_line", "git_env", "transport_url"]

# The skip reason for a consumer that needs a token when none is set; converge and drift key on
# it to skip exactly what the cascade skipped.
NO_TOKEN = "needs CASCADE_TOKEN, which is not set"

# Reads CASCADE_TOKEN from git's environment only when git asks for a credential; the
# token is therefore never in argv, in a config file or in a URL.
_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=${CASCADE_USERNAME:-x-access-token}"; echo "password=$CASCADE_TOKEN"; }; f'
)
GIT_TIMEOUT = 300.0
"""Seconds one git command of the cascade may run."""


def cascade_token(token: str | None = None) -> str | None:
    """Return ``token``, else `CASCADE_TOKEN` from the environment; registered as a secret.

    ``""`` means "no token" explicitly.
    """
    value = token if token is not None else os.environ.get("CASCADE_TOKEN", "")
    if value:
        register_secret(value)
    return value or None


def git_env(token: str | None) -> dict[str, str]:
    """Environment for git: never prompt, and hand ``token`` over through a credential helper."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        # Abort a transfer that stalls below 1 kB/s for a minute instead of hanging the fan-out.
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
        "GIT_HTTP_LOW_SPEED_TIME": "60",
    }
    if token:
        register_secret(token)
        env["CASCADE_TOKEN"] = token
        # An empty value first clears helpers from other config, so no stored credential wins.
        helpers = [("credential.helper", ""), ("credential.helper", _HELPER)]
        env.update(append_config_env(os.environ, helpers))
    return env


def transport_url(url: str) -> str:
    """Return the URL git is given: a local path becomes file:// so `--depth` is honoured."""
    if "://" in url or not Path(url).is_absolute():
        return url
    return Path(url).as_uri()


def fail_line(stderr: str) -> str:
    """The line of git's ``stderr`` that says what failed (else its last line)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:", "remote: error", "ERROR")):
            return line
    return lines[-1] if lines else "no output"
