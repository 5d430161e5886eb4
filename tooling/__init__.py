"""The runtime release pipeline: stage, rewrite, build, smoke, diff, release, cascade."""

from __future__ import annotations

__all__ = ["__version__"]

# Part of the rewriter cache key: bump when a change alters any output.
__version__ = "1.0.0"
