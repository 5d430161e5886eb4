"""The versions a built wheel or sdist carries, read from the files without installing them.

A wheel states its version three times: in its file name, in ``*.dist-info/METADATA`` and,
through ``__version__``, in the package.  ``read_built`` reads all of them; deciding whether
they agree with pyproject.toml is ``tooling.release.survey``' job.
"""

from __future__ import annotations

import ast
import email.parser
import tarfile
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from tooling.index import version_of_filename

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["BuiltVersions", "DunderVersion", "built_files", "read_built", "read_dunder_version"]

_METADATA_VERSION = frozenset({"importlib.metadata.version", "importlib_metadata.version"})


@dataclass(frozen=True)
class DunderVersion:
    """What ``__version__`` in a package's ``__init__.py`` resolves to, read without running it."""

    value: str | None
    """The version it yields in the installed wheel, if that can be told statically."""
    how: str
    """How it is set: ``importlib.metadata.version('dist')``, a literal, or absent."""
    problem: str | None
    """Why it breaks the one-source rule, if it does."""


class _Assignments(ast.NodeVisitor):
    """Collect ``__version__ = ...`` assignments, noting which sit in an ``except`` handler."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.expr, bool]] = []
        self.aliases: dict[str, str] = {}
        self._in_handler = 0

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.aliases[head] = head

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._in_handler += 1
        self.generic_visit(node)
        self._in_handler -= 1

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            self.found.append((node.value, self._in_handler > 0))
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name) and target.id == "__version__" and node.value:
            self.found.append((node.value, self._in_handler > 0))

    def qualname(self, expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return self.aliases.get(expr.id)
        if isinstance(expr, ast.Attribute):
            head = self.qualname(expr.value)
            return f"{head}.{expr.attr}" if head else None
        return None


def _literal(literal: str, metadata_version: str) -> DunderVersion:
    how = f"hard-coded {literal!r}"
    if literal == metadata_version:
        return DunderVersion(literal, how, None)
    return DunderVersion(
        literal, how, f"__version__ is hard-coded {literal!r} but the wheel's METADATA says "
        f"{metadata_version!r}; read it from importlib.metadata instead"
    )  # fmt: skip


def _metadata_call(arg: str, distribution: str, metadata_version: str) -> DunderVersion:
    how = f"importlib.metadata.version({arg!r})"
    if canonicalize_name(arg) == canonicalize_name(distribution):
        return DunderVersion(metadata_version, how, None)
    return DunderVersion(
        None, how, f"__version__ reads the version of {arg!r}, not of {distribution!r}; "
        "pass the distribution name"
    )  # fmt: skip


def read_dunder_version(source: bytes, distribution: str, metadata_version: str) -> DunderVersion:
    """Resolve ``__version__`` in ``source`` for a wheel of ``distribution`` at that version.

    ``importlib.metadata.version("<distribution>")`` resolves to the wheel's METADATA version;
    a string literal (outside an ``except`` fallback) is a hard-coded second source.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return DunderVersion(None, "unparsable", f"__init__.py does not parse: {exc.msg}")
    seen = _Assignments()
    seen.visit(tree)
    live = [value for value, fallback in seen.found if not fallback]
    if not live:
        return DunderVersion(
            None, "absent", "__init__.py sets no __version__; the build adds one that reads "
            "importlib.metadata (tooling/build/stage.py)"
        )  # fmt: skip
    # The module runs top to bottom: the last assignment is the one that stays.
    value = live[-1]
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return _literal(value.value, metadata_version)
    if isinstance(value, ast.Call) and seen.qualname(value.func) in _METADATA_VERSION:
        arg = value.args[0] if value.args else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return _metadata_call(arg.value, distribution, metadata_version)
    return DunderVersion(
        None, "computed", "__version__ is computed in a way that cannot be read without running "
        "it; read it with importlib.metadata.version(<distribution>)"
    )  # fmt: skip


@dataclass(frozen=True)
class BuiltVersions:
    """The versions one built file states."""

    path: Path
    """The wheel or sdist."""
    kind: str
    """``wheel`` or ``sdist``."""
    filename_version: str | None
    """The version in the file name (normalized), if it parses."""
    name: str | None
    """``Name`` from METADATA (wheel) or PKG-INFO (sdist)."""
    version: str | None
    """``Version`` from METADATA or PKG-INFO."""
    dunder: DunderVersion | None
    """What the package's ``__version__`` resolves to (wheels only)."""
    error: str | None
    """Why the file could not be read, if it could not."""


def built_files(dist: Path, distribution: str) -> tuple[Path, ...]:
    """Return the wheels, then the sdists, of ``distribution`` in ``dist`` (PEP 427/625)."""
    if not dist.is_dir():
        return ()
    wanted = canonicalize_name(distribution)
    files = sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz"))
    return tuple(f for f in files if canonicalize_name(f.name.split("-")[0]) == wanted)


def _headers(text: str) -> tuple[str | None, str | None]:
    message = email.parser.HeaderParser().parsestr(text)
    return message.get("Name"), message.get("Version")


def _read_wheel(path: Path, package: str) -> BuiltVersions:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metas = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(metas) != 1:
            return BuiltVersions(path, "wheel", version_of_filename(path.name), None, None, None,
                                 f"{len(metas)} .dist-info/METADATA files, expected 1")  # fmt: skip
        name, version = _headers(archive.read(metas[0]).decode("utf-8"))
        init = f"{package}/__init__.py"
        if init not in names:
            dunder = DunderVersion(None, "absent", f"the wheel has no {init}")
        else:
            dunder = read_dunder_version(archive.read(init), name or "", version or "")
    return BuiltVersions(path, "wheel", version_of_filename(path.name), name, version, dunder, None)


def _read_sdist(path: Path) -> BuiltVersions:
    with tarfile.open(path, "r:gz") as archive:
        member = next(
            (m for m in archive.getmembers() if m.name.count("/") == 1
             and m.name.endswith("/PKG-INFO")),
            None,
        )  # fmt: skip
        handle = archive.extractfile(member) if member else None
        text = handle.read().decode("utf-8") if handle else None
    if text is None:
        return BuiltVersions(path, "sdist", version_of_filename(path.name), None, None, None,
                             "no top-level PKG-INFO")  # fmt: skip
    name, version = _headers(text)
    return BuiltVersions(path, "sdist", version_of_filename(path.name), name, version, None, None)


def read_built(path: Path, package: str) -> BuiltVersions:
    """Read the versions a wheel or sdist states; an unreadable file comes back with ``error``."""
    kind = "wheel" if path.name.endswith(".whl") else "sdist"
    try:
        return _read_wheel(path, package) if kind == "wheel" else _read_sdist(path)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, UnicodeDecodeError) as exc:
        return BuiltVersions(path, kind, version_of_filename(path.name), None, None, None, str(exc))
