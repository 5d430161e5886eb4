"""The doctor: reads a runtime tree and its configuration, lists every finding with its fix.

``python -m tooling.doctor [--json]`` (``nox -s doctor``); docs/build.md "Doctor" lists the
findings.  Exit 0 with no findings, 1 with findings, 2 when the tree cannot be read.
"""

from __future__ import annotations

from tooling.doctor.findings import Finding, FindingKind
from tooling.doctor.run import diagnose, main

__all__ = ["Finding", "FindingKind", "diagnose", "main"]
