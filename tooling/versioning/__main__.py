"""``python -m tooling.versioning``: the version plan from the commits since the last release."""

from __future__ import annotations

import sys

from tooling.versioning.plan import main

if __name__ == "__main__":
    sys.exit(main())
