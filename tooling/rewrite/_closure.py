"""The closure check: no shipped module may import what does not ship.

After rewriting, every import in a shipped module is resolved to an absolute module name.  It is
a violation if it still names a bare workspace module, or if it names a module of the source
tree that was excluded from the package (``lib.pre_stop`` when ``lib/`` is excluded).  Lazy
imports inside functions count: every import statement is seen, wherever it sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from tooling.rewrite._source import ImportRef, SourceResult

__all__ = ["ModuleIndex", "Violation", "find_violations"]


def _module_of(rel: str) -> tuple[str, ...] | None:
    """``a/b/c.py`` -> (a, b, c); ``a/__init__.py`` -> (a,); non-Python -> None."""
    if not rel.endswith(".py"):
        return None
    parts = tuple(rel[:-3].split("/"))
    return parts[:-1] if parts[-1] == "__init__" else parts


@dataclass(frozen=True)
class ModuleIndex:
    """Which dotted modules of the source tree ship and which were excluded."""

    package: str
    """The package everything lives under."""
    shipped: frozenset[str]
    """Dotted names (``PKG.a.b``) of shipped modules and package directories."""
    excluded: frozenset[str]
    """Dotted names of excluded modules and directories."""
    excluded_top: frozenset[str]
    """Top-level names that were excluded (``tests``, ``scripts``)."""

    @classmethod
    def build(
        cls, package: str, shipped_files: Iterable[str], excluded: Iterable[tuple[str, bool]]
    ) -> ModuleIndex:
        """Index the shipped file paths and excluded (path, is_dir) entries below the source."""
        shipped = {package}
        for rel in shipped_files:
            parts = _module_of(rel)
            if parts is None:
                continue
            for i in range(1, len(parts) + 1):
                shipped.add(".".join((package, *parts[:i])))
        gone: set[str] = set()
        top: set[str] = set()
        for rel, is_dir in excluded:
            parts = tuple(rel.split("/")) if is_dir else _module_of(rel)
            if not parts or not all(p.isidentifier() for p in parts):
                continue
            gone.add(".".join((package, *parts)))
            if len(parts) == 1:
                top.add(parts[0])
        return cls(package, frozenset(shipped), frozenset(gone - shipped), frozenset(top))

    def watch_terms(self, names: frozenset[str]) -> frozenset[str]:
        """Leaf names of excluded nested modules: relative imports of them name only the leaf."""
        return frozenset(m.rsplit(".", 1)[-1] for m in self.excluded) - names

    def excluded_prefix(self, dotted: str) -> str | None:
        """The excluded module ``dotted`` lies in, if the nearest known ancestor is excluded."""
        parts = dotted.split(".")
        for i in range(len(parts), 1, -1):
            candidate = ".".join(parts[:i])
            if candidate in self.shipped:
                return None
            if candidate in self.excluded:
                return candidate
        return None


@dataclass(frozen=True)
class Violation:
    """One shipped import of something that does not ship."""

    path: str
    """The shipped file (as found in the source tree)."""
    line: int
    """1-based line of the import."""
    name: str
    """The module it imports."""
    reason: str
    """Why that breaks an install."""

    def __str__(self) -> str:
        """``path:line: imports NAME, which REASON``."""
        return f"{self.path}:{self.line}: imports {self.name}, which {self.reason}"


def _targets(ref: ImportRef, module_parts: tuple[str, ...], is_package: bool,
             package: str) -> list[str]:
    """Absolute dotted names an import refers to (module, and module.name for from-imports)."""
    if ref.level:
        base = [package, *module_parts]
        if not is_package:
            base = base[:-1]
        if ref.level > 1:
            base = base[: len(base) - (ref.level - 1)]
        if not base:
            return []
        module = ".".join([*base, ref.module] if ref.module else base)
    else:
        module = ref.module
    targets = [module] if module else []
    targets.extend(f"{module}.{name}" for name in ref.names if name != "*")
    return targets


def find_violations(
    index: ModuleIndex,
    names: frozenset[str],
    results: Mapping[str, SourceResult],
    root: Path,
) -> list[Violation]:
    """Every import in the rewritten shipped modules that would fail once installed."""
    found: list[Violation] = []
    prefix = f"{index.package}."
    for rel in sorted(results):
        parts = _module_of(rel)
        if parts is None:
            continue
        is_package = rel.endswith("__init__.py")
        for ref in results[rel].imports:
            head = ref.module.split(".", 1)[0]
            if ref.level == 0 and head in names and head != index.package:
                reason = "was left bare (not rewritten)"
                found.append(Violation(str(root / rel), ref.line, ref.module, reason))
                continue
            for target in _targets(ref, parts, is_package, index.package):
                if target in index.shipped or not target.startswith(prefix):
                    continue
                gone = index.excluded_prefix(target)
                if gone is not None:
                    bare = gone.removeprefix(prefix)
                    found.append(Violation(str(root / rel), ref.line, target.removeprefix(
                        prefix), f"is excluded from the package ({bare})"))
                    break
    return found
