"""Deciding what a consumer's pin file and requirement lines become: pure, bytes in, bytes out.

The pin file holds the version on its first line and nothing else (docs/cascade.md).  A
requirement line naming the distribution (after PEP 503 normalization) keeps its operator,
extras, markers, comment and spacing; only the version text changes, and every other byte of
the file stays as it was.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tooling.errors import ToolingError
from tooling.version import is_valid_version, validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DISTRIBUTION",
    "BumpPlan",
    "LineChange",
    "RequirementBump",
    "bump_requirements",
    "pin_is_exact",
    "pin_text",
    "plan_bump",
    "read_pin",
    "workflow_skip",
]

DISTRIBUTION = "molecule-ai-workspace-runtime"

# pip: a comment starts at `#` at the line start or after whitespace.
_COMMENT = re.compile(r"(?:^|(?<=\s))#")
# pip: per-requirement options such as `--hash=...` follow the requirement after whitespace.
_OPTION = re.compile(r"\s--?[A-Za-z]")
_HEAD = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?")
_CLAUSE = re.compile(r"(?P<op>===|~=|==|!=|<=|>=|<|>)(?P<ws>\s*)(?P<ver>[^\s,;)]+)")
# Operators whose version is the floor or the pin: these take the new version.
_BUMPED_OPS = frozenset({"===", "==", "~=", ">="})
_BOM = "\ufeff"


@dataclass(frozen=True)
class LineChange:
    """One requirement line the bump rewrote."""

    line: int
    """Its 1-based line number."""
    before: str
    """The line as it was (without its line ending)."""
    after: str
    """The line as it is now."""


@dataclass(frozen=True)
class RequirementBump:
    """The outcome of bumping one requirement file."""

    data: bytes
    """The new file content; equal to the input when nothing matched or all were current."""
    changes: tuple[LineChange, ...]
    """Every line that changed."""
    matched: int
    """How many lines pin the distribution (changed or already current)."""


def pin_text(version: str) -> bytes:
    """Return the pin file's whole content for ``version``: the version and one newline."""
    return f"{validate_version(version, where='pin file version')}\n".encode()


def read_pin(data: bytes) -> str:
    """Return the version a pin file states: its first line, stripped (not validated)."""
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return first.removeprefix(_BOM).strip()


def pin_is_exact(data: bytes, version: str) -> bool:
    """Whether the pin file already is exactly ``version`` plus a newline."""
    return is_valid_version(version) and data == f"{version}\n".encode()


def bump_requirements(
    data: bytes, version: str, *, path: str, distribution: str = DISTRIBUTION
) -> RequirementBump:
    """Point every requirement line for ``distribution`` in ``data`` at ``version``.

    Raises ToolingError naming ``path`` and the line when a line cannot be bumped safely: its
    version is hash-pinned, or an upper bound would exclude ``version``.
    """
    validate_version(version, where="requirement version")
    target = canonicalize_name(distribution)
    # surrogateescape: bytes that are not UTF-8 come back out exactly as they went in.
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    changes: list[LineChange] = []
    matched = 0
    for index, raw in enumerate(lines):
        body, eol = (raw[:-1], "\r") if raw.endswith("\r") else (raw, "")
        new_body = _bump_line(
            body, _continuation(lines, index), version=version, target=target, path=path,
            line=index + 1,
        )
        if new_body is None:
            continue
        matched += 1
        if new_body != body:
            lines[index] = new_body + eol
            changes.append(LineChange(index + 1, body, new_body))
    if not changes:
        return RequirementBump(data, (), matched)
    out = "\n".join(lines).encode("utf-8", errors="surrogateescape")
    return RequirementBump(out, tuple(changes), matched)


def _continuation(lines: list[str], index: int) -> str:
    """Join the lines a trailing backslash continues line ``index`` with (`--hash` hides there)."""
    joined: list[str] = []
    current = lines[index]
    while current.rstrip().endswith("\\") and index + 1 < len(lines):
        index += 1
        current = lines[index]
        joined.append(current)
    return " ".join(joined)


def _bump_line(
    body: str, continuation: str, *, version: str, target: str, path: str, line: int
) -> str | None:
    """Return the line with its version bumped, or None when it does not pin ``target``."""
    prefix = _BOM if line == 1 and body.startswith(_BOM) else ""
    content = body[len(prefix) :]
    stripped = content.lstrip()
    if not stripped or stripped.startswith(("#", "-")):
        return None
    comment = _COMMENT.search(content)
    req_end = comment.start() if comment else len(content)
    option = _OPTION.search(content, 0, req_end)
    if option:
        req_end = option.start()
    requirement_text = content[:req_end].rstrip().removesuffix("\\").rstrip()
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement:
        return None
    if canonicalize_name(requirement.name) != target:
        return None
    if requirement.url or not requirement.specifier:
        return None  # a URL or an unpinned name: nothing to point at a version
    options = (content[option.start() :] if option else "") + " " + continuation
    if "--hash" in options:
        raise ToolingError(
            f"{path}:{line}: {requirement.name} is hash-pinned; bumping it would break the "
            "hashes, regenerate the file (e.g. pip-compile --generate-hashes) instead",
            path=path,
            line=line,
        )
    head = _HEAD.match(requirement_text)
    spec_start = head.end() if head else 0
    marker_at = requirement_text.find(";", spec_start)
    spec_end = marker_at if marker_at >= 0 else len(requirement_text)

    def bump(match: re.Match[str]) -> str:
        if match["op"] not in _BUMPED_OPS:
            return match[0]
        return f"{match['op']}{match['ws']}{version}"

    new_spec = _CLAUSE.sub(bump, requirement_text[spec_start:spec_end])
    new_requirement = requirement_text[:spec_start] + new_spec + requirement_text[spec_end:]
    if not Requirement(new_requirement).specifier.contains(version, prereleases=True):
        raise ToolingError(
            f"{path}:{line}: {requirement_text.strip()!r} would exclude {version} even after "
            "the bump (an upper bound or exclusion); widen it by hand",
            path=path,
            line=line,
        )
    # Only the requirement's own span changes: spacing, options and comments stay as they were.
    return prefix + new_requirement + content[len(requirement_text) :]


@dataclass(frozen=True)
class BumpPlan:
    """What one consumer needs, decided from the files at its branch head."""

    skip: str | None
    """Why it is not cascaded (no release workflow, no pin file), or None."""
    previous: str | None
    """The version its pin file states now (first line, stripped), None without a pin file."""
    files: Mapping[str, bytes]
    """Repository path to new content for every file that must change; empty when current."""
    changes: tuple[str, ...]
    """One `path:line: before -> after` note per bumped requirement line."""


def workflow_skip(workflows: Sequence[str], release_workflow: str) -> str | None:
    """Return why a repository with these workflow files is not cascaded, or None if it is.

    A `.yml`/`.yaml` file matching ``release_workflow`` in `.github/workflows/` or
    `.gitea/workflows/` (either counts, seed 001) makes it eligible.
    """
    names = [w.rsplit("/", 1)[-1] for w in workflows]
    if any(
        n.endswith((".yml", ".yaml")) and fnmatch.fnmatchcase(n, release_workflow) for n in names
    ):
        return None
    glob = "" if release_workflow == "*" else f" matching {release_workflow!r}"
    return f"no release workflow in .github/workflows/ or .gitea/workflows/{glob}"


def plan_bump(
    *,
    workflows: Sequence[str],
    pin: bytes | None,
    requirements: Mapping[str, bytes | None],
    pin_file: str,
    release_workflow: str,
    version: str,
    distribution: str = DISTRIBUTION,
) -> BumpPlan:
    """Decide what to write for ``version``: the pin as the version alone, bumped requirements.

    ``workflows`` are the paths under `.github/workflows/` and `.gitea/workflows/` (either
    counts); ``requirements`` maps each configured requirement file to its bytes (None when the
    file does not exist, which is fine).
    """
    skip = workflow_skip(workflows, release_workflow)
    if skip:
        return BumpPlan(skip, None, {}, ())
    if pin is None:
        return BumpPlan(f"no pin file {pin_file}", None, {}, ())
    files: dict[str, bytes] = {}
    if not pin_is_exact(pin, version):
        files[pin_file] = pin_text(version)
    changes: list[str] = []
    for path, data in requirements.items():
        if data is None:
            continue
        bump = bump_requirements(data, version, path=path, distribution=distribution)
        if bump.changes:
            files[path] = bump.data
            changes.extend(f"{path}:{c.line}: {c.before} -> {c.after}" for c in bump.changes)
    return BumpPlan(None, read_pin(pin), files, tuple(changes))
