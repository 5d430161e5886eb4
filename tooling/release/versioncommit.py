"""The version commit: pyproject's new version and its CHANGELOG section, written and committed.

Both files are written or neither; finding the commit an earlier run made makes the commit
step safe to run again, and an unpushed one can be undone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tomlkit
import tomlkit.exceptions

from tooling.errors import ToolingError
from tooling.files import write_atomic
from tooling.release.gitcore import git, git_out, head_commit, local_tag_commit
from tooling.release.journal import Step, crash_if_asked
from tooling.version import validate_version
from tooling.versioning.changelog import insert_section

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tooling.config import Config
    from tooling.release.journal import Journal

__all__ = [
    "changelog_path",
    "commit_files",
    "drop_local_release",
    "find_release_commit",
    "pending_files",
    "project_version_text",
    "read_utf8",
    "release_message",
    "set_project_version",
    "version_files",
    "write_version_files",
]


def release_message(version: str) -> str:
    """Return the version commit's message: a ``chore:``, which never asks for a release."""
    return f"chore(release): {version}"


def changelog_path(config: Config) -> Path:
    """Return the CHANGELOG the version commit writes its section into."""
    return config.changelog or config.root / "CHANGELOG.md"


def version_files(config: Config) -> tuple[str, ...]:
    """The files the version commit writes, relative to the root."""
    changelog = changelog_path(config)
    if not changelog.is_relative_to(config.root):
        raise ToolingError(f"[tool.runtime-build] changelog: {changelog} is outside the "
                           f"repository {config.root}; give a path inside it")
    return ("pyproject.toml", changelog.relative_to(config.root).as_posix())


def pending_files(journal: Journal | None, config: Config | None = None) -> tuple[str, ...]:
    """Return the files a crashed version commit may have left modified (preflight allows them)."""
    if journal is not None and journal.was_started(Step.COMMIT):
        return version_files(config) if config is not None else ("pyproject.toml",
                                                                  "CHANGELOG.md")
    return ()


def read_utf8(path: Path, what: str) -> str:
    """Return ``path``'s text (``""`` when absent); not UTF-8 or unreadable is an error."""
    try:
        return path.read_bytes().decode("utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise ToolingError(
            f"{path}: the {what} is not UTF-8 (byte {exc.start}: {exc.reason}); re-encode it as "
            "UTF-8 and run again (nothing was changed)", path=path,
        ) from exc
    except OSError as exc:
        raise ToolingError(f"{path}: cannot read the {what} ({exc.strerror})", path=path) from exc


def project_version_text(text: str, version: str, where: Path) -> str:
    """Return pyproject ``text`` with ``[project] version`` set, every other byte as it was."""
    validate_version(version, where="release version")
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ToolingError(f"{where}: invalid TOML: {exc}", path=where) from exc
    project = document.get("project")
    if not isinstance(project, dict) or "version" not in project:
        raise ToolingError(f"{where}: no [project] version to set", path=where)
    project["version"] = version
    return tomlkit.dumps(document)


def set_project_version(pyproject: Path, version: str) -> None:
    """Set ``[project] version`` in ``pyproject``, leaving every other byte as it was."""
    # Bytes decoded as they are (no newline translation): the build tree gets exactly the
    # pyproject.toml the version commit will hold, CRLF and all.
    try:
        text = pyproject.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolingError(f"{pyproject}: not UTF-8 ({exc.reason}); re-encode it as UTF-8",
                           path=pyproject) from exc
    write_atomic(pyproject, project_version_text(text, version, pyproject))


def write_version_files(config: Config, version: str, section: str) -> None:
    """Write the new version into pyproject.toml and its section into the CHANGELOG: both or none.

    Both new texts are computed before either file is touched; a failure while writing puts
    the first back.  A kill between the two writes leaves pyproject written: the resumed
    commit step writes both again, and both writes are idempotent.
    """
    pyproject, changelog = config.root / "pyproject.toml", changelog_path(config)
    old_pyproject = read_utf8(pyproject, "pyproject.toml")
    old_changelog = read_utf8(changelog, "CHANGELOG")
    new_pyproject = project_version_text(old_pyproject, version, pyproject)
    new_changelog = insert_section(old_changelog, version, section)
    existed = changelog.exists()
    try:
        write_atomic(pyproject, new_pyproject)
        crash_if_asked("commit:between-writes")
        write_atomic(changelog, new_changelog)
    except BaseException:
        write_atomic(pyproject, old_pyproject)
        if existed:
            write_atomic(changelog, old_changelog)
        else:
            changelog.unlink(missing_ok=True)
        raise


def find_release_commit(repo: Path, base: str, message: str) -> str | None:
    """HEAD, if it is the version commit an earlier run made on ``base``; else None."""
    head = head_commit(repo)
    if head == base:
        return None
    parent = git(repo, "rev-parse", "--verify", "--quiet", "HEAD^", check=False).stdout.strip()
    subject = git_out(repo, "log", "-1", "--format=%s", "HEAD")
    return head if parent == base and subject == message else None


def commit_files(repo: Path, paths: Iterable[str], message: str) -> str:
    """Commit exactly ``paths`` (relative to ``repo``) with ``message``; return the commit."""
    listed = list(paths)
    git(repo, "add", "--", *listed)
    git(repo, "commit", "--quiet", "--no-verify", "-m", message, "--", *listed)
    return head_commit(repo)


def drop_local_release(repo: Path, tag: str, base: str, message: str) -> None:
    """Undo an unpushed release: delete its local tag and reset its version commit to ``base``."""
    if local_tag_commit(repo, tag) is not None:
        git(repo, "tag", "--delete", tag)
    if find_release_commit(repo, base, message) is not None:
        git(repo, "reset", "--quiet", "--hard", base)
