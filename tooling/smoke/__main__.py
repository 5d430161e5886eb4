"""``python -m tooling.smoke``: nox -s smoke."""

from __future__ import annotations

import sys

from tooling.smoke.run import main

if __name__ == "__main__":
    sys.exit(main())
