"""How patiently release steps retry the index, and the retried download they share."""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RetryPolicy", "download"]

_SERVER_ERROR = 500
_TOO_MANY = 429
_CHUNK = 1 << 16


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry an upload whose outcome is unknown, and downloads."""

    attempts: int = 5
    """Tries in all, the first included (twine's own immediate re-POSTs count as tries)."""
    backoff: float = 1.0
    """Seconds before the second try; doubled before each further one."""
    timeout: float = 600.0
    """Seconds one ``twine upload`` may run; after that its outcome is unknown."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (1-based)."""
        return 0.0 if attempt <= 1 else self.backoff * 2 ** (attempt - 2)



def download(url: str, policy: RetryPolicy, dest: Path | None = None) -> str:
    """Return the sha256 of the bytes ``url`` serves, keeping them at ``dest`` if given.

    Connection errors, 429 and 5xx are retried per ``policy``; any other non-200 answer is an
    error at once.  ``dest`` is written through a temp file, so it is whole or absent.
    """
    last = "no attempt made"
    temp = dest.with_name(f".{dest.name}.part") if dest is not None else None
    for attempt in range(1, policy.attempts + 1):
        time.sleep(policy.delay(attempt))
        digest = hashlib.sha256()
        try:
            with contextlib.ExitStack() as stack:
                response = stack.enter_context(
                    httpx.stream("GET", url, follow_redirects=True, timeout=60.0)
                )
                if response.status_code >= _SERVER_ERROR or response.status_code == _TOO_MANY:
                    last = f"HTTP {response.status_code}"
                    continue
                if response.status_code != httpx.codes.OK:
                    raise ToolingError(
                        redact(f"{url}: HTTP {response.status_code}; check RUNTIME_INDEX_URL")
                    )
                sink = stack.enter_context(temp.open("wb")) if temp is not None else None
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    if sink is not None:
                        sink.write(chunk)
        except httpx.HTTPError as exc:
            last = type(exc).__name__
            continue
        if temp is not None and dest is not None:
            temp.replace(dest)
        return digest.hexdigest()
    raise ToolingError(redact(f"{url}: download failed after {policy.attempts} attempts ({last})"))
