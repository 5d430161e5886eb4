"""One ``twine`` run (check or upload) and what its output tells about the files it sent.

twine is configured only by its own environment variables (``TWINE_REPOSITORY_URL``,
``TWINE_USERNAME``, ``TWINE_PASSWORD``); ``twine_env`` refuses to run without an upload URL.
"""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.proc import run
from tooling.secrets import redact

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = [
    "TwineRun",
    "UploadOutcome",
    "classify_twine_failure",
    "twine_check",
    "twine_env",
    "twine_upload",
]

# Applied to twine's output (short, and the patterns have no nested repetition: linear).
_UNAUTHORIZED = re.compile(r"HTTPError: 40[13]\b")
_CONFLICT = re.compile(r"HTTPError: 40[09]\b|already exists?", re.IGNORECASE)
_CLIENT_ERROR = re.compile(r"HTTPError: 4(?!29)\d\d\b")
# twine re-POSTs a 5xx answer by itself, at once, up to five times; each says so.
_TWINE_RETRY = "Package upload appears to have failed"


class UploadOutcome(enum.Enum):
    """What one ``twine upload`` run tells about the files it sent."""

    UPLOADED = "uploaded"
    """The index answered 200 for every file."""
    UNKNOWN = "unknown"
    """The request went out and no clear answer came back (connection dropped, response cut,
    timeout, 5xx, 429, anything unrecognised): only the index can say; it is read next."""
    CONFLICT = "conflict"
    """400/409 or "already exists": the index has a file of that name; its bytes decide."""
    UNAUTHORIZED = "unauthorized"
    """401/403: the credentials were refused; nothing was stored."""
    REFUSED = "refused"
    """Another 4xx: the index refused the files; nothing was stored."""


@dataclass(frozen=True)
class TwineRun:
    """One ``twine upload`` run."""

    outcome: UploadOutcome
    """What it tells about the files."""
    detail: str
    """Its last line of output (scrubbed), or what went wrong around it."""
    posts: int
    """Upload tries it made: 1 plus twine's own immediate re-POSTs of a 5xx answer."""


def classify_twine_failure(output: str) -> UploadOutcome:
    """Decide what a failed ``twine upload``'s (scrubbed) output tells about its files."""
    if _UNAUTHORIZED.search(output):
        return UploadOutcome.UNAUTHORIZED
    if _CONFLICT.search(output):
        return UploadOutcome.CONFLICT
    if _CLIENT_ERROR.search(output):
        return UploadOutcome.REFUSED
    return UploadOutcome.UNKNOWN



def twine_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment twine runs in: ``base`` made non-interactive, keyring off."""
    env = dict(base)
    if not env.get("TWINE_REPOSITORY_URL", "").strip():
        # Without it twine would upload to pypi.org: never a default we want.
        raise ToolingError(
            "TWINE_REPOSITORY_URL is not set; set it (and TWINE_USERNAME, TWINE_PASSWORD) "
            "to the index's upload endpoint"
        )
    env.pop("TWINE_REPOSITORY", None)
    env["TWINE_NON_INTERACTIVE"] = "1"
    # A keyring lookup can hang on a headless machine; credentials come from the env only.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def _twine(args: Sequence[str | os.PathLike[str]], env: Mapping[str, str], what: str) -> str:
    done = run([sys.executable, "-m", "twine", *args], env=env, check=False, what=what)
    output = redact(f"{done.stdout}\n{done.stderr}")
    if done.returncode:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        return "\n".join(lines) or f"exit {done.returncode}"
    return ""


def twine_upload(paths: Sequence[Path], env: Mapping[str, str], timeout: float) -> TwineRun:
    """Run ``twine upload`` once on ``paths``; a timeout is an unknown outcome, not an error."""
    argv = [sys.executable, "-m", "twine", "upload", "--non-interactive",
            "--disable-progress-bar", *map(str, paths)]
    try:
        done = run(argv, env=env, check=False, what="twine upload", timeout=timeout)
    except ToolingError as exc:  # timed out: the request may have been stored
        return TwineRun(UploadOutcome.UNKNOWN, str(exc), 1)
    output = redact(f"{done.stdout}\n{done.stderr}")
    posts = 1 + output.count(_TWINE_RETRY)
    if not done.returncode:
        return TwineRun(UploadOutcome.UPLOADED, "", posts)
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    detail = lines[-1] if lines else f"exit {done.returncode}"
    return TwineRun(classify_twine_failure(output), detail, posts)


def twine_check(paths: Sequence[Path], env: Mapping[str, str]) -> None:
    """Run ``twine check --strict``; raise naming its last complaint if it refuses."""
    failure = _twine(["check", "--strict", *paths], env, "twine check")
    if failure:
        tail = failure.splitlines()[-1]
        raise ToolingError(f"twine check --strict refused the files: {tail}; fix the metadata")
