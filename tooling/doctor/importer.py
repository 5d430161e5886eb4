"""Runs in a clean subprocess: ``python -I -B importer.py SOURCE NAME...``.

Puts SOURCE first on ``sys.path`` (the source layout), imports every listed top-level module
and every module below each package, and prints one ``IMPORTS-JSON:`` line mapping each module
that failed to ``ExcType: first line``.  Standard library only.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys

MARKER = "IMPORTS-JSON:"
"""The prefix of the one line of output the caller reads."""


def _fail(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def import_all(source: str, names: list[str]) -> dict[str, str]:
    """Module name to failure, for every module of ``names`` (packages walked)."""
    sys.path.insert(0, source)
    failures: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except BaseException as exc:
            failures[name] = _fail(exc)
            continue
        paths = list(getattr(module, "__path__", []))
        for info in pkgutil.walk_packages(paths, name + ".", onerror=lambda _n: None):
            try:
                importlib.import_module(info.name)
            except BaseException as exc:
                failures[info.name] = _fail(exc)
    return failures


def main(argv: list[str]) -> int:
    """Print the failures of importing ``argv[1:]`` from the folder ``argv[0]``."""
    source, names = argv[0], argv[1:]
    os.chdir(source)
    sys.stdout.write(MARKER + json.dumps(import_all(source, names)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
