"""The rewriter on real projects: released sdists made bare, tested in both layouts, compared.

``convert`` makes a release a bare-module tree; ``projects`` reads ``tooling/bench/corpus.toml``;
``outcomes`` reads JUnit XML and compares two runs test by test; ``run`` is
``python -m tooling.bench.corpus`` (``nox -s corpus``).  docs/rewrite.md ("The corpus").
"""

from tooling.bench.corpus.run import main

__all__ = ["main"]
