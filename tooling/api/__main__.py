"""``python -m tooling.api``: nox -s api-diff."""

from __future__ import annotations

import sys

from tooling.api.diff import main

if __name__ == "__main__":
    sys.exit(main())
