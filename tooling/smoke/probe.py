"""The import probe: runs INSIDE a smoke venv as ``python -I -B probe.py PKG DIST DEPS_JSON``.

It walks the installed package on the file system, imports every module in one process
(collecting each failure, not just the first), loads every entry point of the distribution,
and reads the installed RECORD and the top-level modules of each declared dependency.  It
prints one ``PROBE-JSON:`` line.  Standard library only: nothing of ``tooling`` is importable
there (``-I`` keeps the script's folder off ``sys.path``).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import pkgutil
import re
import sys
import sysconfig

MARKER = "PROBE-JSON:"
"""The prefix of the one line of output the caller reads."""


def _fail(name: str, exc: BaseException) -> str:
    text = str(exc)
    return f"{name}: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _walk(paths: list[str], prefix: str, modules: list[str], failures: list[str]) -> None:
    for info in sorted(pkgutil.iter_modules(paths, prefix), key=lambda m: m.name):
        modules.append(info.name)
        try:
            importlib.import_module(info.name)
        except BaseException as exc:
            failures.append(_fail(info.name, exc))
        if info.ispkg:
            leaf = info.name.rsplit(".", 1)[-1]
            _walk([os.path.join(p, leaf) for p in paths], info.name + ".", modules, failures)


def _dep_modules(deps: list[str]) -> dict[str, list[str]]:
    mods: dict[str, list[str]] = {}
    for name in deps:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        top_level = (dist.read_text("top_level.txt") or "").split()
        if not top_level:
            record = dist.read_text("RECORD") or ""
            top_level = sorted({
                m.group(1)
                for m in re.finditer(r"^(?!__)([A-Za-z0-9_]+)(?:/|\.py,)", record, re.MULTILINE)
            })
        mods[name] = [m for m in top_level if not m.endswith(".dist-info")]
    return mods


def probe(package: str, dist_name: str, deps: list[str]) -> dict[str, object]:
    """What the installed distribution looks like from inside the venv."""
    modules: list[str] = [package]
    failures: list[str] = []
    purelib = sysconfig.get_path("purelib")
    try:
        top = importlib.import_module(package)
        package_file = getattr(top, "__file__", "") or ""
        paths = list(top.__path__)
    except BaseException as exc:
        package_file = ""
        failures.append(_fail(package, exc))
        paths = [os.path.join(purelib, package)]
    _walk(paths, package + ".", modules, failures)
    entry_points: list[str] = []
    entry_failures: list[str] = []
    dist = md.distribution(dist_name)
    for ep in sorted(dist.entry_points, key=lambda e: (e.group, e.name)):
        label = f"{ep.group} {ep.name} = {ep.value}"
        try:
            ep.load()
            entry_points.append(label)
        except BaseException as exc:
            entry_failures.append(_fail(label, exc))
    record = {str(f): f"{f.hash.mode}={f.hash.value}" for f in (dist.files or []) if f.hash}
    return {
        "package_file": package_file,
        "site_packages": purelib,
        "modules": modules,
        "import_failures": failures,
        "entry_points": entry_points,
        "entry_point_failures": entry_failures,
        "record": record,
        "dep_modules": _dep_modules(deps),
    }


def main(argv: list[str]) -> int:
    """Print the probe of ``PKG DIST DEPS_JSON`` as one marker line."""
    package, dist_name, deps = argv[0], argv[1], json.loads(argv[2])
    sys.stdout.write(MARKER + json.dumps(probe(package, dist_name, list(deps))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
