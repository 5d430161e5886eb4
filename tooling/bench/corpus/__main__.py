"""``python -m tooling.bench.corpus``: the rewriter on real projects (docs/rewrite.md)."""

import sys

from tooling.bench.corpus.run import main

sys.exit(main())
