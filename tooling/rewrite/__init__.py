"""The exact import rewriter: bare workspace modules -> one namespaced package.

``rewrite_source`` is the pure core (bytes in, result out); ``rewrite_tree`` walks a tree,
caches, parses in parallel, runs the closure check and writes the output all or nothing;
``main`` is ``python -m tooling.rewrite``.  docs/rewrite.md documents the rules.
"""

from __future__ import annotations

from tooling.rewrite._cli import main
from tooling.rewrite._pytest_config import (
    IMPORT_MODES,
    PytestConfig,
    drop_coverage,
    read_pytest_config,
    shadowing_names,
    shadowing_sources,
)
from tooling.rewrite._quoted import QuotedTemplate, find_templates
from tooling.rewrite._source import ImportRef, Problem, SourceResult, rewrite_source
from tooling.rewrite._tree import TreeResult, discover_names, rewrite_tree
from tooling.rewrite._walk import read_tree

__all__ = [
    "IMPORT_MODES",
    "ImportRef",
    "Problem",
    "PytestConfig",
    "QuotedTemplate",
    "SourceResult",
    "TreeResult",
    "discover_names",
    "drop_coverage",
    "find_templates",
    "main",
    "read_pytest_config",
    "read_tree",
    "rewrite_source",
    "rewrite_tree",
    "shadowing_names",
    "shadowing_sources",
]
