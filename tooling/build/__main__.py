"""``python -m tooling.build``: nox -s build."""

from __future__ import annotations

import sys

from tooling.build.dists import main

if __name__ == "__main__":
    sys.exit(main())
