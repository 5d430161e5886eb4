"""``python -m tooling.rewrite --source SRC --package PKG --out OUT ...``."""

from __future__ import annotations

import sys

from tooling.rewrite._cli import main

if __name__ == "__main__":
    sys.exit(main())
