"""``python -m tooling.cascade``: invoke cascade / converge / drift."""

from __future__ import annotations

import sys

from tooling.cascade.cli import main

if __name__ == "__main__":
    sys.exit(main())
