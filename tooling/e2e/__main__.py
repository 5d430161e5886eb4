"""``python -m tooling.e2e``: nox -s e2e."""

from __future__ import annotations

import sys

from tooling.e2e.run import main

if __name__ == "__main__":
    sys.exit(main())
