"""``python -m tooling.ci``: nox -s lint."""

from __future__ import annotations

import sys

from tooling.ci.lint import main

if __name__ == "__main__":
    sys.exit(main())
