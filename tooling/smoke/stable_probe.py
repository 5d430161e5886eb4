"""The stable-imports probe: runs INSIDE a smoke venv as ``python -I -B stable_probe.py JSON``.

JSON is the list of import statements a user writes (``from pkg.mod import Name``), built by
``tooling.smoke.stable`` from validated identifiers.  Each runs alone, every failure is kept,
and one ``STABLE-JSON:`` line is printed.  Standard library only: nothing of ``tooling`` is
importable there.
"""

from __future__ import annotations

import json
import sys

MARKER = "STABLE-JSON:"
"""The prefix of the one line of output the caller reads."""


def main(argv: list[str]) -> int:
    """Run each statement of ``argv[0]`` (a JSON list); print the failures as one JSON line."""
    failures = []
    for statement in json.loads(argv[0]):
        try:
            # The exact statement a consumer writes, so failures read as theirs would.
            exec(statement, {})  # noqa: S102 - built from validated identifiers only
        except BaseException as exc:  # noqa: BLE001 - any failure of the wheel is a finding
            failures.append(f"{statement}: {type(exc).__name__}: {exc}")
    print(MARKER + json.dumps(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
