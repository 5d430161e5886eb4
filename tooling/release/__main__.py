"""``python -m tooling.release``: invoke release."""

from __future__ import annotations

import sys

from tooling.release.run import main

if __name__ == "__main__":
    sys.exit(main())
