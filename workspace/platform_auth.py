"""The platform token: read from the environment or a file, sent as a header, never logged.

The token is wrapped in `PlatformToken`, whose `repr` and `str` hide it, and every log record
passes through `RedactingFilter`, which masks the raw value should it end up in a message.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "PlatformToken",
    "RedactingFilter",
    "TokenError",
    "auth_headers",
    "install_redaction",
    "load_token",
]

TOKEN_ENV = "MOLECULE_PLATFORM_TOKEN"
TOKEN_FILE_ENV = "MOLECULE_PLATFORM_TOKEN_FILE"
_MASK = "***"

log = logging.getLogger(__name__)


class TokenError(ValueError):
    """The token file is unusable; the message names the file, never the token."""


@dataclass(frozen=True)
class PlatformToken:
    """A bearer token for the platform API; printing it shows only where it came from."""

    value: str = field(repr=False)
    """The secret itself; read it only to build a header."""
    origin: str
    """Where it came from: the variable or file name."""

    def __str__(self) -> str:
        """Where the token came from, masked."""
        return f"{_MASK} (from {self.origin})"


def load_token(
    token_file: Path | None = None, env: Mapping[str, str] | None = None
) -> PlatformToken | None:
    """The platform token from `MOLECULE_PLATFORM_TOKEN`, else from ``token_file``; or None."""
    environ = os.environ if env is None else env
    value = environ.get(TOKEN_ENV, "").strip()
    if value:
        return PlatformToken(value, TOKEN_ENV)
    if token_file is None:
        return None
    try:
        text = token_file.read_text(encoding="utf-8")
        mode = token_file.stat().st_mode
    except OSError as exc:
        raise TokenError(f"token_file: cannot read {token_file}: {exc.strerror}") from exc
    token = text.strip()
    if not token or "\n" in token:
        raise TokenError(
            f"token_file: {token_file} must hold exactly one non-empty line, the token"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("token file %s is readable by others; chmod 600 it", token_file)
    return PlatformToken(token, str(token_file))


def auth_headers(token: PlatformToken | None) -> dict[str, str]:
    """The HTTP headers that authenticate to the platform (none without a token)."""
    return {"Authorization": f"Bearer {token.value}"} if token is not None else {}


class RedactingFilter(logging.Filter):
    """Masks known secret values in every log record that passes through it."""

    def __init__(self) -> None:
        """Start with no secrets."""
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        """Mask ``secret`` from now on."""
        if secret:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with every secret masked; never drop a record."""
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, _MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_redaction(
    token: PlatformToken | None, logger: logging.Logger | None = None
) -> RedactingFilter:
    """Attach a filter masking ``token`` to every handler of ``logger`` (the root by default)."""
    target = logger or logging.getLogger()
    redactor = (
        next(
            (f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)), None
        )
        or RedactingFilter()
    )
    if token is not None:
        redactor.add(token.value)
    for handler in target.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    return redactor
