"""The secret registry and the scrubber every printed string goes through.

Secrets are the values of secret-named environment variables plus any value registered at
run time.  ``redact`` is linear in the length of its input: it is applied to untrusted text
(commit messages, tool output), so its one pattern is anchored on a literal and cannot retry
a character (docs/release.md, "Secrets"); `nox -s bench -- redact` times it on 5 MB.
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
# ``scheme://userinfo@`` reversed: ``@``, the userinfo (no ``/``, ``@`` or space), ``//:``,
# then a scheme (RFC 3986: a letter, then letters, digits, ``+``, ``.``, ``-``) reversed.
_USERINFO_REVERSED = re.compile(r"@[^/@\s]+//:(?=[a-zA-Z0-9+.-]*[a-zA-Z])")
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
    """``scheme://user:pass@host`` -> ``scheme://***@host``, in linear time, at C speed.

    The pattern reads the text backwards (reversed), starting at a literal ``@``: the
    userinfo run it scans stops at the next ``/``, ``@`` or space, and ``@`` itself stops it,
    so no two tries share a character and no scan repeats; the scheme check after ``//:`` is
    one look-ahead per ``@``.  Read forwards, a pattern starting at the scheme would retry at
    every character of a long scheme-like run: quadratic (docs/release.md, "Secrets").
    """
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO_REVERSED.sub("@***//:", text[::-1])[::-1]
