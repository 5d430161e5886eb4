"""The declared stable imports (`[tool.runtime-build] stable-imports`), from the installed wheel.

Each entry ``"pkg.mod:Name,Other"`` becomes the statement a user writes,
``from pkg.mod import Name, Other`` (an entry naming no names is ``import pkg.mod``), and runs
in the smoke venv with ``python -I`` outside the repository, so it proves the wheel, not the
tree.  Every failing entry is listed, not only the first.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.proc import run
from tooling.smoke.checks import CheckResult, clean_env, elapsed, failed_check, venv_python
from tooling.smoke.stable_probe import MARKER

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.config import StableImport

__all__ = ["CHECK_NAME", "check_stable_imports", "import_statement"]

CHECK_NAME = "stable-imports"

# Runs inside the smoke venv by path: a real module, so ruff and mypy check it too.
PROBE = Path(__file__).with_name("stable_probe.py")


def import_statement(entry: StableImport) -> str:
    """The statement a user writes for ``entry`` (its parts are validated identifiers)."""
    if entry.names:
        return f"from {entry.module} import {', '.join(entry.names)}"
    return f"import {entry.module}"


def check_stable_imports(
    venv: Path,
    entries: Sequence[StableImport],
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> CheckResult:
    """Import every declared stable import from the wheel installed in ``venv``, with ``env``."""
    start = time.perf_counter()
    if not entries:
        return CheckResult(CHECK_NAME, ok=True, detail="no stable-imports declared",
                           skipped=True)
    statements = [import_statement(e) for e in entries]
    argv = [os.fspath(venv_python(venv)), "-I", "-B", os.fspath(PROBE), json.dumps(statements)]
    done = run(argv, cwd=cwd, check=False, env=clean_env(env), timeout=120, what="stable-imports")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return failed_check(CHECK_NAME, f"the import probe failed: {tail[0]}", start)
    failures = tuple(str(f) for f in json.loads(line.removeprefix(MARKER)))
    if failures:
        return CheckResult(
            CHECK_NAME, ok=False,
            detail=f"{len(failures)} of {len(statements)} stable imports failed: {failures[0]}",
            failures=failures, seconds=elapsed(start),
        )
    return CheckResult(CHECK_NAME, ok=True, detail=f"{len(statements)} stable imports ok",
                       seconds=elapsed(start))
