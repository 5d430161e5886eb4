"""The secret registry and the scrubber every printed string goes through.

Secrets are the values of secret-named environment variables plus any value registered at
run time.  ``redact`` is linear in the length of its input: it is applied to untrusted text
(commit messages, tool output), so it uses no backtracking pattern (docs/release.md, "Secrets").
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["redact", "register_secret", "secret_values"]

# Environment variables whose values are secrets wherever they show up.  Applied to variable
# names only, which are short and ours.
_SECRET_NAME = re.compile(r"(TOKEN|PASSWORD|SECRET|PASSWD|API_KEY|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LEN = 4
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_USERINFO_STOP = frozenset("/@") | frozenset(" \t\n\r\f\v")
_extra_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Treat ``value`` as a secret for the rest of this process, wherever it came from."""
    if len(value) >= _MIN_SECRET_LEN:
        _extra_secrets.add(value)


def secret_values(env: Mapping[str, str] | None = None) -> set[str]:
    """All values that must never be printed: secret-named variables plus registered ones."""
    source = os.environ if env is None else env
    found = {v for k, v in source.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return found | _extra_secrets


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Replace every known secret and every URL userinfo in ``text`` with ``***``."""
    for secret in sorted(secret_values() | set(extra), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return _redact_userinfo(text)


def _redact_userinfo(text: str) -> str:
    """``scheme://user:pass@host`` -> ``scheme://***@host``, in one pass over ``text``.

    Each ``://`` is visited once; the scan back over the scheme stops at the previous ``://``
    (``:`` and ``/`` are not scheme characters) and the scan forward stops at the next ``/``,
    so no character is read more than a bounded number of times.
    """
    out: list[str] = []
    done = 0
    at = text.find("://")
    while at != -1:
        start = at
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        has_scheme = any(c.isascii() and c.isalpha() for c in text[start:at])
        info_start = at + 3
        end = info_start
        while end < len(text) and text[end] not in _USERINFO_STOP:
            end += 1
        if has_scheme and end > info_start and end < len(text) and text[end] == "@":
            out.append(text[done:info_start])
            out.append("***")
            done = end
            at = text.find("://", end + 1)
        else:
            at = text.find("://", max(end, info_start))
    out.append(text[done:])
    return "".join(out)
