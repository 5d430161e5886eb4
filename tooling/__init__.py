"""The runtime release pipeline: stage, rewrite, build, smoke, diff, release, cascade.

The kernel (top-level modules), shared by every stage and importing no stage:

- errors: the one root exception, ``ToolingError`` (a leaf).
- secrets: the secret registry and the linear-time scrubber.
- proc: the one subprocess runner.
- git: the one git runner (fixed encodings, never prompts) and the release-tag query.
- gitauth: git authentication through the environment, never through a URL.
- config: ``[project]`` and ``[tool.runtime-build]``, read here and nowhere else.
- version: the PEP 440 gate and the bump arithmetic.
- files: atomic writes with one durability rule, directory swaps, file digests.
- cli: the output sink: errors to exit codes, annotations, progress lines, tables.
- index: the package index's simple API, read.
- needs: a consumer's declared needs (runtime-needs.toml) checked against a compat.json.
- summary: Markdown sections appended to the CI job summary (``$GITHUB_STEP_SUMMARY``).

One package per stage, each runnable as ``python -m tooling.<stage>``:

- rewrite/: bare workspace imports -> one namespaced package (libcst).
- api/: the public API model, its diff and required bump, compat.json.
- build/: stage + rewrite, wheel and sdist, archive checks, the in-tree PEP 517 backend.
- smoke/: the built wheel in a fresh venv per Python: imports, scripts, deps, tests.
- versioning/: history since the last tag, the runtime's path scope, the version plan, the
  changelog.
- release/: the release itself: steps, journal, repository operations, upload, credentials,
  and adoption into an existing repository (``invoke init``).
- cascade/: consumers, their repositories and pins, converge, drift, fan-out, forge.
- ci/: the generated workflows, their YAML model, the Gitea rules, the lint session.
- doctor/: findings on a runtime tree (shadowed names, templates, env, ...), each with its fix.
- bench/: benchmarks side by side in one run, and the corpus (the rewriter on real projects);
  e2e: the whole release in a sandbox.

Dependencies run one way: kernel <- rewrite <- api <- build <- release; smoke -> rewrite;
cascade, ci, versioning -> kernel; doctor -> rewrite, smoke; release, bench and e2e may use
everything.
"""

from __future__ import annotations

__all__ = ["__version__"]

# Part of the rewriter cache key: bump when a change alters any output.
__version__ = "1.0.0"
