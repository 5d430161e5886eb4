"""The one git runner, and the queries every stage asks of a repository.

Every call has a fixed output encoding and never prompts: messages written in any
``i18n.commitEncoding`` read back the same, paths are not quoted, and a missing credential
fails at once instead of waiting for a terminal that CI does not have.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from packaging.version import Version

from tooling.errors import ToolingError
from tooling.proc import Completed, run
from tooling.version import is_valid_version

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["NO_PROMPT", "git", "git_out", "last_release_tag", "require_head"]

# A credential git would ask for fails at once: no terminal prompt, no credential-manager
# dialog, and an askpass that answers nothing.
NO_PROMPT: Mapping[str, str] = {
    "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "",
}
_FIXED = ("-c", "i18n.logOutputEncoding=UTF-8", "-c", "core.quotePath=false")


def git(
    repo: Path,
    *args: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
    stdin: str | None = None,
) -> Completed:
    """Run ``git ARGS`` in ``repo``; a failure names ``what`` (default ``git <command>``)."""
    full_env = {**(os.environ if env is None else env), **NO_PROMPT}
    label = what or f"git {args[0]} in {repo}"
    return run(["git", *_FIXED, *args], cwd=repo, env=full_env, check=check, what=label,
               input_text=stdin)


def git_out(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """The stripped standard output of ``git ARGS`` in ``repo``."""
    return git(repo, *args, env=env).stdout.strip()


def require_head(repo: Path) -> None:
    """Fail with one line unless ``repo`` is a git repository with at least one commit."""
    done = git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if done.returncode != 0:
        raise ToolingError(
            f"{repo}: not a git repository with commits; run from a clone of the project"
        )


def last_release_tag(repo: Path, prefix: str, *, finals_only: bool = False) -> str | None:
    """The tag of the highest valid version among ``prefix*`` tags reachable from HEAD.

    Tags whose rest is not a valid version (``runtime-vnext``, ``runtime-v1.2``) are not
    releases and are passed over.  With ``finals_only``, pre-release and dev tags are too
    (the changelog of a final release covers everything since the previous final).  None
    when there is no release tag yet.
    """
    require_head(repo)
    listed = git_out(repo, "tag", "--merged", "HEAD", "--list", f"{prefix}*")
    found: list[tuple[Version, str]] = []
    for line in listed.splitlines():
        tag = line.strip()
        rest = tag[len(prefix) :]
        if not tag.startswith(prefix) or not is_valid_version(rest):
            continue
        version = Version(rest)
        if not (finals_only and (version.is_prerelease or version.is_devrelease)):
            found.append((version, tag))
    return max(found)[1] if found else None
