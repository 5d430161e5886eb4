"""What an API object means as text: constant values by meaning, signatures, the fingerprint.

Pure string work, shared by the diff (``value_meaning``) and compat.json (``api_fingerprint``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tooling.api.model import ApiModel, ApiObject

__all__ = [
    "api_fingerprint",
    "normalize_value",
    "short_text",
    "shown_value",
    "signature_of",
    "value_meaning",
]

_MAX_SHOWN = 60


def short_text(text: str) -> str:
    """``text`` on one line, cut to 60 characters."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _canonical_literal(value: object) -> str:
    # A repr independent of dict/set ordering and hash seeds, so equal values compare equal.
    if isinstance(value, dict):
        pairs = (f"{_canonical_literal(k)}: {_canonical_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(sorted(pairs)) + "}"
    if isinstance(value, (set, frozenset)):
        inner = ", ".join(sorted(_canonical_literal(v) for v in value))
        return f"{type(value).__name__}({{{inner}}})"
    if isinstance(value, list):
        return "[" + ", ".join(_canonical_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(f"{_canonical_literal(v)}, " for v in value) + ")"
    return f"{type(value).__name__}:{value!r}"


def _node_meaning(node: ast.expr) -> str:
    try:
        return _canonical_literal(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ast.dump(node)


def normalize_value(text: str) -> str:
    """Return a value's meaning: its literal if it is one, else its AST without positions."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return " ".join(text.split())
    return _node_meaning(tree.body)


def _assigned_node(name: str, source: str) -> ast.expr | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets: list[ast.expr] = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
        if named and stmt.value is not None:
            return stmt.value
    return None


@functools.lru_cache(maxsize=4096)
def _meaning(name: str, source: str) -> str:
    node = _assigned_node(name, source)
    return _node_meaning(node) if node is not None else " ".join(source.split())


def value_meaning(obj: ApiObject) -> str | None:
    """What a constant's value means: equal for ``0x10`` and ``16``, or two spellings of a dict."""
    if obj.value is None:
        return None
    return _meaning(obj.path.rpartition(".")[2], obj.value)


def shown_value(obj: ApiObject) -> str | None:
    """A constant's value as written, shortened for a report."""
    if obj.value is None:
        return None
    node = _assigned_node(obj.path.rpartition(".")[2], obj.value)
    segment = ast.get_source_segment(obj.value, node) if node is not None else None
    return short_text(segment or obj.value)


def signature_of(obj: ApiObject) -> str:
    """One line describing everything a user relies on about ``obj`` (no file, line or docs)."""
    parts = [obj.path, obj.kind]
    if obj.parameters is not None:
        params = ", ".join(
            f"{p.name}:{p.kind}:{'required' if p.required else 'optional'}"
            f":{p.annotation or ''}={p.default or ''}"
            for p in obj.parameters
        )
        parts.append(f"({params})")
    if obj.returns:
        parts.append(f"-> {obj.returns}")
    meaning = value_meaning(obj)
    if meaning is not None:
        parts.append(f"= {meaning}")
    if obj.bases:
        parts.append(f"bases {', '.join(obj.bases)}")
    if obj.kind == "external" and obj.target:
        parts.append(f"-> {obj.target}")
    return " ".join(parts)


def api_fingerprint(model: ApiModel) -> str:
    """``sha256:<hex>`` of the sorted public signatures: equal for builds exposing the same API."""
    lines = sorted(signature_of(obj) for obj in model.objects.values())
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"
