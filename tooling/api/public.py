"""Which names of a griffe-loaded package are public import paths.

Public means importable by a path without an underscore in it, and reported under that path
(docs/api-diff.md "What is public"):

- objects defined in a public module (only those ``__all__`` lists, where it is defined;
  submodules stay reachable by import whatever ``__all__`` says);
- names a package's ``__init__`` imports from anywhere in the package (``from adapter_base
  import BaseAdapter`` in ``adapters/__init__.py``), listed in ``__all__`` or not;
- every name a ``from X import *`` module exposes: ``X``'s ``__all__``, or what is public in
  ``X`` by these rules;
- names a module lists in ``__all__`` or imports as a redundant alias (``from x import Y as Y``,
  PEP 484).
"""

from __future__ import annotations

import re

import griffe

__all__ = ["PublicNames"]

_AS_SELF = re.compile(r"\b(\w+)\s+as\s+\1\b")


class PublicNames:
    """Decides, once per name, whether ``module.name`` is public in one loaded package."""

    def __init__(self, root: griffe.Module) -> None:
        """Prepare to decide for the package loaded as ``root``; nothing is read yet."""
        self.root = root
        self._public: dict[str, bool] = {}

    def is_public(
        self, module: griffe.Module, name: str, member: griffe.Object | griffe.Alias
    ) -> bool:
        """Whether ``module.name`` is a public import path (the rules in the module docstring)."""
        key = f"{module.path}.{name}"
        if key not in self._public:
            self._public[key] = False  # a star-import cycle reads "not public" while deciding
            self._public[key] = self._decide_public(module, name, member)
        return self._public[key]

    def _decide_public(
        self, module: griffe.Module, name: str, member: griffe.Object | griffe.Alias
    ) -> bool:
        exports = _exports(module)
        if (exports is not None and name in exports) or name.startswith("_"):
            return exports is not None and name in exports
        if not isinstance(member, griffe.Alias):
            return exports is None
        # An import under `if TYPE_CHECKING:` binds nothing at run time.
        if member.runtime and module.is_init_module and self.imports_from_package(member):
            return True
        if exports is not None or not member.runtime:
            return False
        if member.wildcard_imported:
            return self.star_exposed(member)
        return _is_redundant_alias(module, name, member)

    def imports_from_package(self, alias: griffe.Alias) -> bool:
        """Whether ``alias`` imports a name (not a module) defined in this package."""
        if not str(alias.target_path).startswith(f"{self.root.path}."):
            return False
        try:
            return not isinstance(alias.final_target, griffe.Module)
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return True  # a name in the package that no longer resolves: still imported here

    def star_exposed(self, alias: griffe.Alias) -> bool:
        """Whether a name ``from X import *`` brought in is public in ``X`` itself."""
        source_path, _, name = str(alias.target_path).rpartition(".")
        try:
            source = self.root.modules_collection.get_member(source_path)
        except (KeyError, ValueError, IndexError, griffe.AliasResolutionError):
            return False
        if not isinstance(source, griffe.Module):
            return False
        if source.exports is not None:
            return True  # griffe expanded the star following X's __all__
        member = source.members.get(name)
        return member is not None and self.is_public(source, name, member)


def _exports(module: griffe.Module) -> frozenset[str] | None:
    exports = module.exports
    if exports is None:
        return None
    names: set[str] = set()
    for item in exports:
        names.add(item if isinstance(item, str) else str(getattr(item, "name", item)))
    return frozenset(names)


def _is_redundant_alias(module: griffe.Module, name: str, alias: griffe.Alias) -> bool:
    start = int(alias.alias_lineno or 0)
    end = int(alias.alias_endlineno or start)
    text = "\n".join(module.lines[max(start - 1, 0) : end])
    return any(m.group(1) == name for m in _AS_SELF.finditer(text))
