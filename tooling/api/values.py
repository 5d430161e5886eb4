"""What an API object means as text: constant values by meaning, signatures, the fingerprint.

Pure string work, shared by the diff (``value_meaning``) and compat.json (``api_fingerprint``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.api.source import assigned_node as _assigned_node

if TYPE_CHECKING:
    from tooling.api.model import ApiModel, ApiObject

__all__ = [
    "ValueChange",
    "api_fingerprint",
    "normalize_value",
    "short_text",
    "shown_value",
    "signature_of",
    "value_change",
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


@dataclass(frozen=True)
class ValueChange:
    """How a constant's value changed, down to the first element that differs."""

    scalar: bool
    """Whether it is a scalar constant (str, int, float, bool, bytes, None, or a tuple of
    those) on either side.  False for a container (list, dict, set, or anything holding
    one) and for an expression evaluated only at import time on both sides (``Sentinel()``)."""
    element: str
    """Where old and new first differ, as subscripts (``[3]["description"]``); "" for the
    whole value."""
    old: str
    """The old element, shortened around the difference (``<absent>`` if it was not there)."""
    new: str
    """The new element, shortened the same way (``<absent>`` if it is gone)."""


_ABSENT = "<absent>"
_EXCERPT_BEFORE = 12
_EXCERPT_AFTER = 20
_CONTAINER_NODES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _is_container(node: ast.expr) -> bool:
    return any(isinstance(n, _CONTAINER_NODES) for n in ast.walk(node))


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _excerpts(old: str, new: str, quote: bool) -> tuple[str, str]:
    # Both cut around the first differing character, so the two never read the same.
    common = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        common += 1
    start = max(0, common - _EXCERPT_BEFORE)

    def cut(text: str) -> str:
        end = common + _EXCERPT_AFTER
        body = ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
        return _quoted(body) if quote else body

    return cut(old), cut(new)


def _shown(value: object) -> str:
    text = _quoted(value) if isinstance(value, str) else repr(value)
    return short_text(text)


def _subscript(key: object) -> str:
    return f"[{_quoted(key) if isinstance(key, str) else repr(key)}]"


def _same(a: object, b: object) -> bool:
    return _canonical_literal(a) == _canonical_literal(b)


_Difference = tuple[str, str, str]


def _dict_difference(
    old: dict[object, object], new: dict[object, object], where: str
) -> _Difference:
    for key, value in old.items():
        if key not in new:
            return where + _subscript(key), _shown(value), _ABSENT
        if not _same(value, new[key]):
            return _first_difference(value, new[key], where + _subscript(key))
    key = next(k for k in new if k not in old)
    return where + _subscript(key), _ABSENT, _shown(new[key])


def _sequence_difference(
    old: list[object] | tuple[object, ...], new: list[object] | tuple[object, ...], where: str
) -> _Difference:
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if not _same(a, b):
            return _first_difference(a, b, f"{where}[{index}]")
    index = min(len(old), len(new))
    gone = len(old) > len(new)
    item = _shown(old[index] if gone else new[index])
    return f"{where}[{index}]", item if gone else _ABSENT, _ABSENT if gone else item


def _first_difference(old: object, new: object, where: str) -> _Difference:
    """(element, old shown, new shown) at the first place ``old`` and ``new`` differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return _dict_difference(old, new, where)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)) and (
        type(old) is type(new)
    ):
        return _sequence_difference(old, new, where)
    if isinstance(old, (set, frozenset)) and isinstance(new, (set, frozenset)):
        only_old = ", ".join(sorted(_shown(v) for v in old - new)) or "-"
        only_new = ", ".join(sorted(_shown(v) for v in new - old)) or "-"
        return where, short_text(f"only before: {only_old}"), short_text(f"only now: {only_new}")
    if isinstance(old, str) and isinstance(new, str):
        return (where, *_excerpts(old, new, quote=True))
    return where, _shown(old), _shown(new)


def _literal(node: ast.expr) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def value_change(old: ApiObject, new: ApiObject) -> ValueChange | None:
    """How the value of a constant changed from ``old`` to ``new``; None if it means the same."""
    if old.value is None or new.value is None or old.value == new.value:
        return None
    if value_meaning(old) == value_meaning(new):
        return None
    name = new.path.rpartition(".")[2]
    old_node = _assigned_node(old.path.rpartition(".")[2], old.value)
    new_node = _assigned_node(name, new.value)
    if old_node is None or new_node is None:
        was, now = _excerpts(old.value, new.value, quote=False)
        return ValueChange(scalar=True, element="", old=was, new=now)
    container = _is_container(old_node) or _is_container(new_node)
    old_ok, old_literal = _literal(old_node)
    new_ok, new_literal = _literal(new_node)
    scalar = not container and (old_ok or new_ok)
    if old_ok and new_ok:
        element, was, now = _first_difference(old_literal, new_literal, "")
        return ValueChange(scalar=scalar, element=element, old=was, new=now)
    was, now = _excerpts(ast.unparse(old_node), ast.unparse(new_node), quote=False)
    return ValueChange(scalar=scalar, element="", old=was, new=now)


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
