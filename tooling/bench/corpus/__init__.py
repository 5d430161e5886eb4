"""The rewriter on real projects: released sdists made bare, tested in both layouts, compared.

- convert: one file of a release converted to bare imports (a libcst transform).
- tree: a whole release laid out bare (``src/`` and its tests).
- projects: ``tooling/bench/corpus.toml``, checked before anything runs.
- outcomes: JUnit XML read, two runs compared test by test.
- report: each project's table, the JSON and the one-line verdict.
- run: fetch, convert, test, rewrite, test again; ``python -m tooling.bench.corpus``
  (``nox -s corpus``).

docs/rewrite.md ("Validated on real projects: the corpus") describes it.
"""

from tooling.bench.corpus.run import main

__all__ = ["main"]
