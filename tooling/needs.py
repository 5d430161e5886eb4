"""A consumer's declared needs checked against a runtime release's compat.json.

The needs live in ``runtime-needs.toml`` (keys at the top level) or in ``[tool.runtime]`` of the
consumer's pyproject.toml: ``runtime``, ``adapter-protocol``, ``plugin-api`` (version
specifiers), ``python`` (a version the release must support) and ``api-fingerprint`` (exact);
any other compat.json field under ``[fields]``.  Any other key is refused when the file is
read, with the closest known name.

Kernel, not ``tooling.api``: ``invoke compat --check`` and the cascade (which holds a consumer
whose needs a release does not meet, docs/cascade.md) both read the same format.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from tooling.cli import format_table
from tooling.config import refuse_unknown_keys
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "COMPAT_FILE",
    "COMPAT_FORMAT",
    "FIELDS_TABLE",
    "KNOWN_NEEDS",
    "NEEDS_FILE",
    "CompatCheck",
    "NeedResult",
    "check_needs",
    "format_check",
    "parse_needs",
    "read_compat",
    "read_needs",
]

NEEDS_FILE = "runtime-needs.toml"
COMPAT_FILE = "compat.json"
COMPAT_FORMAT = 1
"""Bumped when a field changes meaning; consumers refuse formats they do not know."""
KNOWN_NEEDS = frozenset({"runtime", "adapter-protocol", "plugin-api", "python", "api-fingerprint"})
FIELDS_TABLE = "fields"
"""The table naming any other compat.json field (``wire-version`` checks ``wire_version``)."""
# Needs whose compat.json field is not simply the need's name in snake case.
_NEED_FIELDS = {
    "runtime": "runtime_version",
    "python": "requires_python",
    "api-fingerprint": "api_fingerprint",
}


@dataclass(frozen=True)
class NeedResult:
    """One declared need checked against one release."""

    need: str
    """The need's key, e.g. ``adapter-protocol``."""
    wanted: str
    """What the consumer declared (a specifier, a Python version, or a fingerprint)."""
    provided: str
    """What the release offers."""
    satisfied: bool
    """Whether the release meets it."""
    reason: str
    """One sentence explaining the verdict."""


@dataclass(frozen=True)
class CompatCheck:
    """A consumer's needs checked against a release."""

    needs_file: Path | str
    """Where the needs were read from."""
    results: tuple[NeedResult, ...]
    """One per declared need, in key order."""

    @property
    def satisfied(self) -> bool:
        """Whether every need is met."""
        return all(r.satisfied for r in self.results)


def read_needs(path: Path) -> tuple[Path, dict[str, str]]:
    """The needs declared by the consumer at ``path`` (a directory or one of the two files).

    ``runtime-needs.toml`` (keys at the top level) wins over ``[tool.runtime]`` in
    pyproject.toml.
    """
    if path.is_dir():
        candidates = [path / NEEDS_FILE, path / "pyproject.toml"]
        file = next((c for c in candidates if c.is_file() and _needs_table(c) is not None), None)
        if file is None:
            raise ToolingError(f"{path}: no {NEEDS_FILE} and no [tool.runtime] in pyproject.toml; "
                               "declare the consumer's needs in one of them")
    else:
        file = path
    table = _needs_table(file)
    if table is None:
        raise ToolingError(f"{file}: no [tool.runtime] table; declare the consumer's needs there")
    return file, _needs_of(table, str(file))


def parse_needs(text: str, where: str) -> dict[str, str]:
    """The needs in the text of a ``runtime-needs.toml`` read from ``where`` (for messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ToolingError(f"{where}: invalid TOML: {exc}") from exc
    return _needs_of(data, where)


def _needs_of(table: Mapping[str, object], where: str) -> dict[str, str]:
    refuse_unknown_keys(table, KNOWN_NEEDS | {FIELDS_TABLE}, where)
    fields = table.get(FIELDS_TABLE, {})
    if not isinstance(fields, dict):
        raise ToolingError(f"{where}: `{FIELDS_TABLE}` must be a table of compat.json fields")
    needs: dict[str, str] = {}
    named = {k: v for k, v in table.items() if k != FIELDS_TABLE}
    for key, value in [*named.items(), *fields.items()]:
        if not isinstance(value, str):
            raise ToolingError(f'{where}: need {key!r} must be a string, e.g. ">=1,<2"')
        needs[str(key)] = value
    return needs


def _needs_table(file: Path) -> dict[str, object] | None:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ToolingError(f"{file}: cannot read it: {exc}") from exc
    if file.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("runtime") if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else None
    return data


def _as_version(value: object) -> Version | None:
    text = ".".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _check_one(
    need: str, wanted: str, compat: Mapping[str, object], file: Path | str
) -> NeedResult:
    field = _NEED_FIELDS.get(need, need.replace("-", "_"))
    if field not in compat and f"{field}_version" in compat:
        field = f"{field}_version"
    if field not in compat:
        known = sorted([*_NEED_FIELDS, *(k.replace("_", "-") for k in compat)])
        raise ToolingError(f"{file}: unknown need {need!r}; known needs: {', '.join(known)}")
    offered = compat[field]
    if field == "api_fingerprint":
        ok = wanted == offered
        return NeedResult(need, wanted, str(offered), ok,
                          "same public API" if ok else "the public API differs")
    if field == "requires_python":
        # The consumer's Python must be one the release supports.
        ok = _spec(str(offered), file, need).contains(wanted, prereleases=True)
        return NeedResult(need, wanted, str(offered), ok,
                          f"Python {wanted} {'is' if ok else 'is not'} in {offered}")
    if offered is None:
        return NeedResult(need, wanted, "none", satisfied=False,
                          reason=f"the release does not declare {field}")
    version = _as_version(offered)
    if version is None:
        return NeedResult(need, wanted, str(offered), satisfied=False,
                          reason=f"{offered!r} is not a version")
    ok = _spec(wanted, file, need).contains(version, prereleases=True)
    shown = str(version)
    return NeedResult(need, wanted, shown, ok,
                      f"{shown} {'satisfies' if ok else 'does not satisfy'} {wanted}")


def _spec(text: str, file: Path | str, need: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ToolingError(f"{file}: need {need!r} = {text!r} is not a version specifier "
                           '(e.g. ">=1,<2" or "~=1.1")') from exc


def read_compat(path: Path, package: str | None = None) -> dict[str, object]:
    """A compat.json from a file, or from inside a wheel (``<package>/compat.json``)."""
    try:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                names = [n for n in wheel.namelist() if n.endswith(f"/{COMPAT_FILE}")
                         and n.count("/") == 1 and (package is None or n.startswith(f"{package}/"))]
                if not names:
                    raise ToolingError(f"{path}: no <package>/{COMPAT_FILE} inside; rebuild it")
                text = wheel.read(names[0]).decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ToolingError(f"{path}: cannot read compat data: {exc}") from exc
    if not isinstance(data, dict):
        raise ToolingError(f"{path}: compat data must be a JSON object")
    if data.get("compat_format") != COMPAT_FORMAT:
        raise ToolingError(f"{path}: compat_format {data.get('compat_format')!r} is not "
                           f"{COMPAT_FORMAT}; use a matching tooling version")
    return data


def check_needs(needs_file: Path | str, needs: Mapping[str, str],
                compat: Mapping[str, object]) -> CompatCheck:
    """Check each declared need against a release's compat data."""
    results = tuple(_check_one(k, needs[k], compat, needs_file) for k in sorted(needs))
    return CompatCheck(needs_file, results)


def format_check(check: CompatCheck, compat: Mapping[str, object], *, as_json: bool) -> str:
    """The verdict as a table (NEED WANTED PROVIDED OK, then each unmet need) or JSON."""
    if as_json:
        return json.dumps({
            "needs_file": str(check.needs_file),
            "runtime_version": compat.get("runtime_version"),
            "satisfied": check.satisfied,
            "needs": [asdict(r) for r in check.results],
        }, indent=2, sort_keys=True)
    rows = [("NEED", "WANTED", "PROVIDED", "OK")]
    rows += [(r.need, r.wanted, r.provided, "yes" if r.satisfied else "NO") for r in check.results]
    lines = [f"{check.needs_file} vs runtime {compat.get('runtime_version')}"]
    lines += format_table(rows[0], rows[1:]).splitlines()
    lines += [f"unsatisfied: {r.need}: {r.reason}" for r in check.results if not r.satisfied]
    return "\n".join(lines)


