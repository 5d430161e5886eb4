"""The one subprocess helper: an argv list, explicit cwd and env, output captured and scrubbed."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["Completed", "run"]

@dataclass(frozen=True)
class Completed:
    """The outcome of one finished command."""

    argv: tuple[str, ...]
    """The command as run (already redacted when shown)."""
    returncode: int
    """Its exit status."""
    stdout: str
    """Everything it printed on standard output, decoded as UTF-8."""
    stderr: str
    """Everything it printed on standard error, decoded as UTF-8."""


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_text: str | None = None,
    timeout: float | None = None,
    what: str | None = None,
) -> Completed:
    """Run ``argv`` (never through a shell), capture its output, raise ToolingError on failure.

    ``env`` replaces the environment when given.  The error message names ``what`` (or the
    program), the exit status and the last line of its error output, all scrubbed of secrets.
    """
    args = [os.fspath(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=input_text,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolingError(
            f"{args[0]}: command not found; install it or put it on PATH"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        label = what or args[0]
        raise ToolingError(f"{label}: timed out after {timeout} s") from exc
    done = Completed(tuple(args), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        label = what or " ".join(args[:2])
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        tail = detail[-1] if detail else "no output"
        raise ToolingError(redact(f"{label} failed (exit {proc.returncode}): {tail}"))
    return done
