"""``python -m tooling.doctor``: nox -s doctor."""

from __future__ import annotations

import sys

from tooling.doctor.run import main

if __name__ == "__main__":
    sys.exit(main())
