"""What the doctor finds, one pure function per kind of finding; each finding carries its fix."""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from tooling.rewrite import find_templates

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BUILD_OUTPUTS",
    "Finding",
    "FindingKind",
    "env_findings",
    "excluded_imports",
    "ignore_findings",
    "non_identifier_folders",
    "optional_import_findings",
    "readme_findings",
    "shadow_findings",
    "shipped_test_files",
    "sources_read_by_path",
    "template_findings",
]

BUILD_OUTPUTS = ("build", "dist", ".nox", ".release")
"""Folders the pipeline writes, which must never be committed."""

_TEST_FILE_GLOBS = ("test_*.py", "*_test.py", "conftest.py")
# An environment variable's name in an error message: FOO_BAR or a long all-caps word.
_ENV_WORD = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")


class FindingKind(Enum):
    """The kinds of finding, in the order the doctor reports them."""

    SHADOWED_NAME = "shadowed-name"
    SOURCE_BY_PATH = "source-by-path"
    STRING_TEMPLATE = "string-template"
    OPTIONAL_IMPORT = "optional-import"
    NON_IDENTIFIER_FOLDER = "non-identifier-folder"
    SHIPPED_TEST_FILE = "shipped-test-file"
    EXCLUDED_IMPORTED = "excluded-imported"
    IMPORT_NEEDS_ENV = "import-needs-env"
    MISSING_README = "missing-readme"
    OUTPUTS_NOT_IGNORED = "outputs-not-ignored"


@dataclass(frozen=True)
class Finding:
    """One finding on the tree."""

    kind: FindingKind
    """What kind of finding."""
    where: str
    """``path`` or ``path:line``, relative to the project root."""
    what: str
    """What is wrong, one line."""
    fix: str
    """The exact setting or change that resolves it."""


def shadow_findings(
    folders: Mapping[str, frozenset[str]], workspace: frozenset[str], tests_rel: str
) -> list[Finding]:
    """Test-tree folders (root-relative) pytest puts first on sys.path, by the names they hide."""
    found = []
    for folder, names in sorted(folders.items()):
        for name in sorted(names & workspace):
            if folder == tests_rel:
                fix = (f"add an empty {tests_rel}/__init__.py (the tests become a package and "
                       f"shadow nothing) or rename {folder}/{name}")
            else:
                fix = f"add an empty {folder}/__init__.py or rename {folder}/{name}"
            found.append(Finding(
                FindingKind.SHADOWED_NAME, f"{folder}/{name}",
                f"shadows the workspace's {name}: pytest puts {folder}/ first on sys.path, so "
                "the tests import their own and the rewriter leaves those imports bare",
                fix,
            ))
    return found


def _parse(code: bytes) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def sources_read_by_path(
    files: Mapping[str, bytes], workspace: frozenset[str], package: str
) -> list[Finding]:
    """Test files that load a workspace module from its path (``.../"x.py"``)."""
    found = []
    for rel, code in sorted(files.items()):
        if b"__file__" not in code:
            continue
        tree = _parse(code)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                stem = node.value.removesuffix(".py")
                if node.value.endswith(".py") and stem in workspace:
                    found.append(Finding(
                        FindingKind.SOURCE_BY_PATH, f"{rel}:{node.lineno}",
                        f"reads {node.value} by path relative to the test file",
                        "nothing for the smoke (it runs the tests beside the installed, "
                        f"rewritten files); on any layout `import {stem}` (which the "
                        f"rewriter turns into {package}.{stem}) needs no path",
                    ))
    return found


def template_findings(
    files: Mapping[str, bytes], workspace: frozenset[str], aliases: Sequence[str]
) -> list[Finding]:
    """String templates (code written to files at run time) importing workspace names bare."""
    hits: list[tuple[str, int, tuple[str, ...]]] = []
    for rel, code in sorted(files.items()):
        if b"import" in code:
            hits.extend((rel, t.line, t.names) for t in find_templates(code, workspace))
    needed = sorted({n for _, _, names in hits for n in names} | set(aliases))
    listed = ", ".join(f'"{n}"' for n in needed)
    return [
        Finding(
            FindingKind.STRING_TEMPLATE, f"{rel}:{line}",
            f"a string template imports {', '.join(names)} by the bare name; the rewriter "
            "leaves code in strings alone, so it fails once written out and run",
            f"compat-aliases = [{listed}] in [tool.runtime-build]",
        )
        for rel, line, names in hits if set(names) - set(aliases)
    ]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def optional_import_findings(
    guarded: Iterable[tuple[str, int, str]],
    *,
    workspace: frozenset[str],
    package: str,
    declared: Iterable[str],
    optional_imports: Iterable[str],
    module_dists: Mapping[str, Sequence[str]],
) -> list[Finding]:
    """Guarded third-party imports that no extra and no ``optional-imports`` entry declares."""
    known = {_normal(d) for d in declared}
    allowed = set(optional_imports)
    found = []
    for rel, line, module in guarded:
        if (module in workspace or module == package or module in sys.stdlib_module_names
                or module in allowed or _normal(module) in known
                or any(_normal(d) in known for d in module_dists.get(module, ()))):
            continue
        found.append(Finding(
            FindingKind.OPTIONAL_IMPORT, f"{rel}:{line}",
            f"optional import of {module} (guarded) is declared nowhere; deptry fails on it",
            f'declare it in [project.optional-dependencies] (e.g. extra = ["{module}"]) or '
            f'add "{module}" to [tool.runtime-build.smoke] optional-imports',
        ))
    return found


def non_identifier_folders(shipped: Iterable[str], source_rel: str) -> list[Finding]:
    """Shipped folders holding ``.py`` files whose name is no Python identifier."""
    bad: set[str] = set()
    for rel in shipped:
        if not rel.endswith(".py"):
            continue
        parts = rel.split("/")[:-1]
        for i, part in enumerate(parts):
            if not part.isidentifier():
                bad.add("/".join(parts[: i + 1]))
                break
    return [
        Finding(
            FindingKind.NON_IDENTIFIER_FOLDER, f"{source_rel}/{folder}",
            "holds .py files but its name is no Python identifier: nothing can import them",
            f'rename it to {folder.rsplit("/", 1)[-1].replace("-", "_").replace(".", "_")} or '
            f'add "{folder}" to [tool.runtime-build] exclude',
        )
        for folder in sorted(bad)
    ]


def shipped_test_files(shipped: Iterable[str], source_rel: str) -> list[Finding]:
    """Test files under ``source`` that no ``exclude`` pattern keeps out of the wheel."""
    found = []
    for rel in sorted(shipped):
        base = rel.rsplit("/", 1)[-1]
        glob = next((g for g in _TEST_FILE_GLOBS if fnmatch.fnmatchcase(base, g)), None)
        if glob is not None:
            found.append(Finding(
                FindingKind.SHIPPED_TEST_FILE, f"{source_rel}/{rel}",
                "a test file ships in the wheel",
                f'add "{glob}" (or "{rel}") to [tool.runtime-build] exclude',
            ))
    return found


def _dotted(rel: str) -> str:
    return rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def excluded_imports(
    shipped: Mapping[str, bytes], excluded: Iterable[str], source_rel: str
) -> list[Finding]:
    """Shipped modules importing a module of the source that is excluded from the package."""
    modules = {_dotted(rel): rel for rel in excluded if rel.endswith(".py") or "." not in rel}
    found = []
    for rel, code in sorted(shipped.items()):
        if not rel.endswith(".py") or (tree := _parse(code)) is None:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            hit = next((m for t in targets for m in modules
                        if t == m or t.startswith(m + ".")), None)
            if hit is not None:
                found.append(Finding(
                    FindingKind.EXCLUDED_IMPORTED, f"{source_rel}/{rel}:{node.lineno}",
                    f"imports {hit}, which is excluded from the package (the build's closure "
                    "check fails)",
                    f'ship it (drop the pattern matching "{modules[hit]}" from '
                    f"[tool.runtime-build] exclude) or stop importing it here",
                ))
    return found


def env_findings(
    failures: Mapping[str, str], module_files: Mapping[str, str], env: Mapping[str, str]
) -> list[Finding]:
    """Modules whose import failed in a clean environment with an error naming a variable."""
    found = []
    for module, error in sorted(failures.items()):
        names = sorted({n for n in _ENV_WORD.findall(error) if n not in env})
        if not names:
            continue
        table = ", ".join(f'{n} = "..."' for n in names)
        found.append(Finding(
            FindingKind.IMPORT_NEEDS_ENV, module_files.get(module, module),
            f"{module} fails to import without {', '.join(names)}: {error}",
            f"[tool.runtime-build.smoke] env = {{ {table} }} (the values the runtime's CI "
            "gives it)",
        ))
    return found


def readme_findings(project: Mapping[str, object], pyproject_rel: str) -> list[Finding]:
    """A ``[project]`` table without ``readme``."""
    if project.get("readme"):
        return []
    return [Finding(
        FindingKind.MISSING_README, pyproject_rel,
        "[project] has no readme: twine check --strict fails on the missing description",
        'readme = "README.md" in [project] (a file beside pyproject.toml)',
    )]


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    candidates = {name, f"{name}/", f"/{name}", f"/{name}/", f"{name}/*", f"/{name}/*",
                  f"**/{name}", f"**/{name}/"}
    return any(p in candidates or fnmatch.fnmatchcase(name, p.strip("/")) for p in patterns)


def ignore_findings(gitignore: str | None, outputs: Iterable[str] = BUILD_OUTPUTS) -> list[Finding]:
    """Build outputs the root ``.gitignore`` does not ignore."""
    patterns = [
        line.strip() for line in (gitignore or "").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    missing = [name for name in outputs if not _ignored(name, patterns)]
    if not missing:
        return []
    lines = " ".join(f"{m}/" for m in missing)
    return [Finding(
        FindingKind.OUTPUTS_NOT_IGNORED, ".gitignore",
        f"build outputs not ignored: {', '.join(missing)}; a commit could carry them",
        f"add these lines to .gitignore: {lines}",
    )]
