"""The one version validator, used at every gate, and the bump arithmetic.

The gates: bump, tag, publish, pin write, pin read.

Accepted: PEP 440 canonical ``X.Y.Z`` with at most ONE of ``aN``, ``bN``, ``rcN``, ``.postN``
or ``.devN``.  Deliberately narrower than PEP 440: no epochs, no local versions, no ``v``,
no two- or four-part versions, no combined suffixes (``1.2.3rc1.post1``,
``1.2.3.post1.dev1``), no leading zeros, nothing a consumer pin could misread.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tooling.cli import guarded
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BUMPS",
    "PRERELEASE_KINDS",
    "VERSION_PATTERN",
    "Bump",
    "ParsedVersion",
    "base_level",
    "bump_rank",
    "bump_version",
    "higher_bump",
    "is_valid_version",
    "main",
    "parse_bump",
    "parse_prerelease",
    "parse_version",
    "release_level",
    "validate_version",
]

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")
"""Every bump, lowest first."""
PRERELEASE_KINDS: tuple[str, ...] = ("a", "b", "rc")
"""The pre-release kinds ``--prerelease`` takes, in the order a release moves through them."""

_NUM = r"(?:0|[1-9][0-9]*)"
VERSION_PATTERN = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:(?P<pre_kind>a|b|rc)(?P<pre_num>{_NUM})|\.post(?P<post>{_NUM})|\.dev(?P<dev>{_NUM}))?",
    re.ASCII,
)
# Only used to explain a refusal; VERSION_PATTERN alone decides.
_RELEASE_PARTS = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_ONE_SUFFIX = r"(?:(?:a|b|rc)[0-9]+|\.post[0-9]+|\.dev[0-9]+)"
_SUFFIX_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf"{_ONE_SUFFIX}{{2,}}"),
        "only one of aN, bN, rcN, .postN or .devN may follow X.Y.Z",
    ),
    (re.compile(r"a|b|rc|\.post|\.dev"), "the suffix needs its number, e.g. rc1, .post1, .dev1"),
    (re.compile(r".*[A-Z].*"), "suffixes are lower case, e.g. 1.3.0rc1"),
    (
        re.compile(r"[-_.]?(alpha|beta|c|pre|preview|rc|a|b)[-_.]?[0-9]*"),
        "a pre-release is spelled aN, bN or rcN right after X.Y.Z, e.g. 1.3.0rc1",
    ),
    (
        re.compile(r"[-_.]?(post|rev|r|dev)[-_.]?[0-9]*|-[0-9]+"),
        "post and dev releases are spelled .postN and .devN, e.g. 1.2.3.post1",
    ),
)
_MAX_SHOWN = 60


def is_valid_version(value: str) -> bool:
    """Whether ``value`` is a release version this project accepts."""
    return isinstance(value, str) and VERSION_PATTERN.fullmatch(value) is not None


# Checked in order on the whole value; the first that holds explains the refusal.
_WHOLE_HINTS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda v: not v, "it is empty"),
    (
        lambda v: "\n" in v or "\r" in v,
        "it has more than one line; a version is one line and nothing else",
    ),
    (lambda v: v != v.strip(), "it has surrounding whitespace"),
    (lambda v: any(ch.isspace() for ch in v), "it contains whitespace"),
    (lambda v: v[0] in "vV", "drop the 'v' prefix (tags add their own prefix)"),
    (lambda v: "+" in v, "local versions (+...) are never released"),
    (lambda v: "!" in v, "epochs (N!) are not used"),
    (lambda v: _RELEASE_PARTS.match(v) is None, "it does not start with X.Y.Z"),
    (lambda v: re.search(r"(?<![0-9])0[0-9]", v) is not None, "a number has a leading zero"),
)


def _why(value: object) -> str:
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a string"
    for holds, hint in _WHOLE_HINTS:
        if holds(value):
            return hint
    parts = _RELEASE_PARTS.match(value)
    if parts is None or parts.group().count(".") != 2:
        return "it needs exactly three parts, X.Y.Z"
    suffix = value[parts.end() :]
    for pattern, hint in _SUFFIX_HINTS:
        if pattern.fullmatch(suffix):
            return hint
    return f"unexpected {_shown(suffix)} after X.Y.Z"


def _shown(value: object) -> str:
    # repr() keeps a newline or a tab visible and the message on one line.
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 4]}...'"


def validate_version(value: str, *, where: str = "version") -> str:
    """Return ``value`` if it is canonical ``X.Y.Z[aN|bN|rcN|.postN|.devN]``; raise otherwise.

    ``where`` names the field or file the value came from, for the message.
    """
    if not is_valid_version(value):
        raise ToolingError(
            f"{where}: {_shown(value)} is not a release version ({_why(value)}); "
            "use PEP 440 canonical X.Y.Z with an optional aN, bN, rcN, .postN or .devN"
        )
    return value


@dataclass(frozen=True)
class ParsedVersion:
    """A validated version taken apart."""

    major: int
    """X of X.Y.Z."""
    minor: int
    """Y of X.Y.Z."""
    patch: int
    """Z of X.Y.Z."""
    pre: tuple[str, int] | None
    """The pre-release kind (``a``, ``b``, ``rc``) and number, if any."""
    post: int | None
    """N of ``.postN``, if any."""
    dev: int | None
    """N of ``.devN``, if any."""

    @property
    def base(self) -> str:
        """``X.Y.Z`` alone."""
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def unreleased_base(self) -> bool:
        """Whether ``X.Y.Z`` itself is still to come (a pre-release or dev release of it)."""
        return self.pre is not None or self.dev is not None


def parse_version(value: str, *, where: str = "version") -> ParsedVersion:
    """Validate ``value`` and take it apart."""
    match = VERSION_PATTERN.fullmatch(validate_version(value, where=where))
    if match is None:  # pragma: no cover - validate_version guarantees a match
        raise ToolingError(f"{where}: {value!r} is not a release version")

    def num(group: str) -> int | None:
        text = match.group(group)
        return int(text) if text is not None else None

    kind = match.group("pre_kind")
    pre_num = num("pre_num")
    return ParsedVersion(
        major=int(match.group("major")),
        minor=int(match.group("minor")),
        patch=int(match.group("patch")),
        pre=(kind, pre_num) if kind is not None and pre_num is not None else None,
        post=num("post"),
        dev=num("dev"),
    )


def bump_rank(bump: Bump | None) -> int:
    """Rank a bump: 0 for none, then patch < minor < major."""
    return 0 if bump is None else BUMPS.index(bump) + 1


def higher_bump(*bumps: Bump | None) -> Bump | None:
    """Return the highest of ``bumps`` (None when all are None)."""
    return max(bumps, key=bump_rank, default=None)


def parse_bump(value: str, *, where: str = "--bump") -> Bump:
    """``major``/``minor``/``patch``, also in PR-label form ``release:minor``; refuse the rest."""
    text = value.strip().lower() if isinstance(value, str) else ""
    text = text.removeprefix("release:").strip()
    if text not in BUMPS:
        raise ToolingError(
            f"{where}: {_shown(value)} is not a bump; use major, minor or patch "
            "(or the label form release:minor)"
        )
    return text


def parse_prerelease(value: str | None, *, where: str = "--prerelease") -> str | None:
    """Return ``a``, ``b`` or ``rc`` (None stays None: a final release); refuse the rest."""
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else ""
    aliases = {"alpha": "a", "beta": "b"}
    text = aliases.get(text, text)
    if text not in PRERELEASE_KINDS:
        raise ToolingError(f"{where}: {_shown(value)} is not a pre-release kind; use a, b or rc")
    return text


def base_level(version: ParsedVersion) -> Bump:
    """Return the bump that led from the previous final release to ``version``'s X.Y.Z.

    1.3.0 came from a minor bump, 2.0.0 from a major one, 1.2.4 from a patch.
    """
    if version.patch:
        return "patch"
    if version.minor:
        return "minor"
    return "major"


def release_level(current: str, bump: Bump) -> Bump:
    """Return the level of a release asking ``bump`` from ``current``, from the last final.

    From a final version that is ``bump`` itself.  From a pre-release of X.Y.Z, any bump up to
    the level X.Y.Z already stands for stays on X.Y.Z (1.3.0rc1 + patch is still a minor
    release), a higher one moves past it.
    """
    parsed = parse_version(current, where="current version")
    if parsed.unreleased_base:
        return higher_bump(bump, base_level(parsed)) or bump
    return bump


def _order(kind: str) -> int:
    return -1 if kind == "dev" else PRERELEASE_KINDS.index(kind)


def bump_version(current: str, bump: Bump, *, prerelease: str | None = None) -> str:
    """Return the version after ``current`` for ``bump``, optionally as a pre-release.

    ``1.2.3`` + minor is ``1.3.0``; with ``prerelease="rc"`` it is ``1.3.0rc1``, then
    ``1.3.0rc2``, and without ``prerelease`` the final ``1.3.0``.  Pre-releases only move
    forward (a -> b -> rc -> final); asking ``a`` at ``rc`` is refused.
    """
    parsed = parse_version(current, where="current version")
    bump = parse_bump(bump)
    kind = parse_prerelease(prerelease)
    if parsed.unreleased_base and bump_rank(bump) <= bump_rank(base_level(parsed)):
        if kind is None:
            return parsed.base
        now = parsed.pre[0] if parsed.pre is not None else "dev"
        if kind == now and parsed.pre is not None:
            return f"{parsed.base}{kind}{parsed.pre[1] + 1}"
        if _order(kind) > _order(now):
            return f"{parsed.base}{kind}1"
        raise ToolingError(
            f"--prerelease {kind}: {current} is already at {now}; pre-releases only move "
            f"forward (a -> b -> rc -> final): use --prerelease {now} or a later kind, "
            "or no --prerelease for the final release"
        )
    major, minor, patch = parsed.major, parsed.minor, parsed.patch
    if bump == "major":
        major, minor, patch = major + 1, 0, 0
    elif bump == "minor":
        minor, patch = minor + 1, 0
    else:
        patch += 1
    return validate_version(f"{major}.{minor}.{patch}{f'{kind}1' if kind else ''}")


def _check(values: list[str]) -> int:
    for value in values:
        validate_version(value, where="argument")
        print(value)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.version check V...`` or ``bump CURRENT BUMP [--prerelease K]``."""
    parser = argparse.ArgumentParser(prog="python -m tooling.version", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate versions; exit 1 naming the first bad one")
    check.add_argument("values", nargs="+")
    bump = sub.add_parser("bump", help="print the version after CURRENT for BUMP")
    bump.add_argument("current")
    bump.add_argument("bump", help="major, minor or patch")
    bump.add_argument("--prerelease", help="a, b or rc")
    args = parser.parse_args(argv)
    if args.command == "check":
        return guarded(lambda: _check(args.values))

    def _bump() -> int:
        print(bump_version(args.current, parse_bump(args.bump), prerelease=args.prerelease))
        return 0

    return guarded(_bump)


if __name__ == "__main__":
    sys.exit(main())
