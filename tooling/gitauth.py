"""Authenticate git's https traffic to ``origin`` with ``$GITHUB_TOKEN``, never through a URL.

CI checks the repository out with ``persist-credentials: false`` and hands the release step a
token in ``GITHUB_TOKEN`` (GitHub: the job's token; Gitea: a token secret).  The release's git
calls to ``origin`` (fetch, ls-remote, the atomic push) send it as an HTTP header that git
reads from ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` in its
environment: the token is never in argv (visible in ``ps``), never in a URL (echoed by git's
errors) and never in a config file (left behind on the runner).  The header is keyed by the
origin URL, ``http.<origin-url>.extraHeader``, so git sends it to that repository only; the
consumer repositories of the cascade run git with their own environment and never see it.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from typing import TYPE_CHECKING

from tooling.proc import run
from tooling.secrets import register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["TOKEN_ENV", "append_config_env", "auth_config_env", "origin_auth_env", "scope_url"]

TOKEN_ENV = "GITHUB_TOKEN"
# GitHub and Gitea both take an installation/job token as the password of basic auth with
# this user name (what actions/checkout itself sends).
_TOKEN_USER = "x-access-token"


def scope_url(url: str) -> str | None:
    """Return ``url`` as a git ``http.<url>.*`` key scope, or None when it is not http(s).

    Userinfo is dropped: a scope without a user name matches the URL whatever user it names,
    and a credential must never become part of a config key.
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def auth_config_env(url: str, token: str, base: Mapping[str, str]) -> dict[str, str]:
    """Return the ``GIT_CONFIG_*`` variables that make git send ``token`` to ``url`` only.

    Entries already in ``base`` (a caller's own ``GIT_CONFIG_COUNT``) are kept; ours are
    appended after them.  Returns ``{}`` when ``url`` is not http(s) or ``token`` is empty.
    The token and its encoded form are registered as secrets, so they are redacted wherever
    they would be printed.
    """
    scope = scope_url(url)
    token = token.strip()
    if scope is None or not token:
        return {}
    encoded = base64.b64encode(f"{_TOKEN_USER}:{token}".encode()).decode("ascii")
    register_secret(token)
    register_secret(encoded)
    return append_config_env(
        base, [(f"http.{scope}.extraHeader", f"AUTHORIZATION: basic {encoded}")]
    )


def append_config_env(
    base: Mapping[str, str], entries: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """Return the ``GIT_CONFIG_*`` variables that add ``entries`` (key, value) to git's config.

    They are numbered after the entries ``base`` already holds (its ``GIT_CONFIG_COUNT``), so
    a caller's own configuration through the environment is kept.
    """
    given = base.get("GIT_CONFIG_COUNT", "").strip()
    start = int(given) if given.isdigit() else 0
    env = {"GIT_CONFIG_COUNT": str(start + len(entries))}
    for offset, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{start + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    return env


def origin_auth_env(repo: Path, remote: str = "origin",
                    env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the variables that authenticate git to ``remote`` with ``$GITHUB_TOKEN``, if set.

    ``remote``'s URL is read as git resolves it (``url.<base>.insteadOf`` applied), so the
    scope is the URL git will actually contact.
    """
    source = os.environ if env is None else env
    token = source.get(TOKEN_ENV, "")
    if not token.strip():
        return {}
    done = run(["git", "remote", "get-url", remote], cwd=repo, env=source, check=False,
               what="git remote get-url")
    if done.returncode:
        return {}
    return auth_config_env(done.stdout.strip(), token, source)
