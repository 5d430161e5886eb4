"""Deciding what a consumer's pin file and requirement lines become: pure, bytes in, bytes out.

The pin file holds the version on its first line and nothing else (docs/cascade.md).  A
requirement line naming the distribution (after PEP 503 normalization) keeps its operator,
extras, markers, comment and spacing; only the version text changes, and every other byte of
the file stays as it was.
"""

from __future__ import annotations

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
    "Stated",
    "bump_requirements",
    "is_lone_version",
    "not_a_file",
    "pin_is_exact",
    "pin_text",
    "plan_bump",
    "read_pin",
    "requirement_version",
    "stated_version",
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
    """Why it is not cascaded (no release workflow), or None."""
    refuse: str | None
    """Why nothing may be written although it has a release workflow (a pin file that holds
    more than a version, a pin path that is no regular file, no line pinning the runtime), or
    None.  The cascade reports it as failed: the consumer stays unpinned."""
    previous: str | None
    """The version it pins now: the pin file's first line, stripped, or (without a pin file)
    the version its first requirement line for the runtime names; None when it pins nothing."""
    files: Mapping[str, bytes]
    """Repository path to new content for every file that must change; empty when current."""
    changes: tuple[str, ...]
    """One `path:line: before -> after` note per bumped requirement line."""


@dataclass(frozen=True)
class Stated:
    """The version a consumer's branch pins, as converge and drift read it."""

    version: str | None
    """The pin file's first line, stripped, or the requirement lines' version; None: nothing."""
    problem: str | None
    """Why the pin cannot be read (the pin path is no regular file), else None."""


def workflow_skip(workflows: Sequence[str], release_workflows: Sequence[str]) -> str | None:
    """Return why a repository with these workflow files is not cascaded, or None if it is.

    Eligible when a file named in ``release_workflows`` is in `.github/workflows/` or
    `.gitea/workflows/` (either counts); any other workflow (a ci.yml) does not count.
    """
    names = {w.rsplit("/", 1)[-1] for w in workflows}
    if names & set(release_workflows):
        return None
    wanted = ", ".join(release_workflows)
    return f"no release workflow ({wanted}) in .github/workflows/ or .gitea/workflows/"


def not_a_file(path: str, kind: str) -> str:
    """The one wording cascade, converge and drift use for a pin path that is no regular file."""
    return f"pin path {path} is a {kind}, not a regular file; make it a file holding the version"


def is_lone_version(data: bytes) -> bool:
    """Whether a pin file may be overwritten: it holds one line that is a release version.

    An empty (or blank) file counts too; anything else (notes, a second line, junk) was put
    there by a person and is never replaced.
    """
    try:
        text = data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError:
        return False
    lines = text.splitlines()
    if not text.strip():
        return True
    return len(lines) == 1 and is_valid_version(lines[0].strip())


def requirement_version(data: bytes, distribution: str = DISTRIBUTION) -> str | None:
    """Return the version the first requirement line for ``distribution`` pins (or floors)."""
    target = canonicalize_name(distribution)
    text = data.decode("utf-8", errors="replace").removeprefix(_BOM)
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        comment = _COMMENT.search(stripped)
        body = stripped[: comment.start()] if comment else stripped
        option = _OPTION.search(body)
        body = (body[: option.start()] if option else body).rstrip().removesuffix("\\").strip()
        try:
            requirement = Requirement(body)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != target:
            continue
        for spec in sorted(requirement.specifier, key=str):
            if spec.operator in _BUMPED_OPS:
                return spec.version
    return None


def _requirements_version(
    requirements: Mapping[str, bytes | None], distribution: str
) -> str | None:
    for data in requirements.values():
        found = requirement_version(data, distribution) if data is not None else None
        if found:
            return found
    return None


def stated_version(
    *,
    pin_file: str | None,
    pin: bytes | None,
    pin_kind: str | None,
    requirements: Mapping[str, bytes | None],
    distribution: str = DISTRIBUTION,
) -> Stated:
    """What a branch pins: its pin file's first line, or (`pin-file = false`) its requirements."""
    if pin_file is None:
        return Stated(_requirements_version(requirements, distribution), None)
    if pin_kind not in {None, "file"}:
        return Stated(None, not_a_file(pin_file, str(pin_kind)))
    return Stated(None if pin is None else read_pin(pin), None)


def plan_bump(
    *,
    workflows: Sequence[str],
    pin: bytes | None,
    requirements: Mapping[str, bytes | None],
    pin_file: str | None,
    release_workflows: Sequence[str],
    version: str,
    pin_kind: str | None = None,
    distribution: str = DISTRIBUTION,
) -> BumpPlan:
    """Decide what to write for ``version``: the pin as the version alone, bumped requirements.

    ``workflows`` are the paths under `.github/workflows/` and `.gitea/workflows/` (either
    counts); ``pin_kind`` is what the pin path is (`file`, `symlink`, `directory`,
    `submodule`; None: absent, and then the pin file is created); ``requirements`` maps each
    configured requirement file to its bytes (None when the file does not exist, which is fine).
    """
    skip = workflow_skip(workflows, release_workflows)
    if skip:
        return BumpPlan(skip, None, None, {}, ())
    stated = stated_version(
        pin_file=pin_file, pin=pin, pin_kind=pin_kind, requirements=requirements,
        distribution=distribution,
    )
    if stated.problem:
        return BumpPlan(None, f"{stated.problem} (not written)", None, {}, ())
    previous = stated.version
    files: dict[str, bytes] = {}
    if pin_file is not None and pin is not None and not is_lone_version(pin):
        if previous != version:
            reason = (
                f"pin file {pin_file} holds more than a version line (first line: "
                f"{previous!r}); not overwritten: make it hold only the version"
            )
            return BumpPlan(None, reason, previous, {}, ())
        # Already states the version: the file stays as its owner wrote it.
    elif pin_file is not None and (pin is None or not pin_is_exact(pin, version)):
        files[pin_file] = pin_text(version)
    changes: list[str] = []
    matched = 0
    for path, data in requirements.items():
        if data is None:
            continue
        bump = bump_requirements(data, version, path=path, distribution=distribution)
        matched += bump.matched
        if bump.changes:
            files[path] = bump.data
            changes.extend(f"{path}:{c.line}: {c.before} -> {c.after}" for c in bump.changes)
    if pin_file is None and not matched:
        where = ", ".join(requirements) or "no requirement file"
        reason = f"pin-file is false and no line of {where} pins {distribution}; nothing to bump"
        return BumpPlan(None, reason, None, {}, ())
    return BumpPlan(None, None, previous, files, tuple(changes))
