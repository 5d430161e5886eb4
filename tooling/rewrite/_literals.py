"""Module-name literals: strings, f-strings, concatenations and ``-c`` code naming a module."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

import libcst as cst

from tooling.rewrite._code import rewrite_code
from tooling.rewrite._imports import dotted_name

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Mapping

__all__ = ["NameLiterals"]

_HEAD = re.compile(r"[^.:]*")

_Node = TypeVar("_Node", bound=cst.CSTNode)


def _changed(node: _Node, **children: cst.CSTNode) -> _Node:
    """``node`` with new children, or ``node`` itself when every child is unchanged."""
    if all(getattr(node, key) is value for key, value in children.items()):
        return node
    return node.with_changes(**children)


class NameLiterals:
    """Decides and rewrites the expressions that evaluate to a workspace module name.

    A mixin of ``ModuleStringRewriter``, which sets these attributes; split out so the position
    table and the literal forms (plain, f-string, concatenation, ``-c`` source) read separately.
    """

    names: frozenset[str]
    package: str
    bindings: Mapping[str, str]
    flagged: set[str]
    counts: Counter[str]

    # -- expressions naming a module -------------------------------------------------------

    def _string(  # noqa: PLR0911 - each early return is one reason a literal is not a name
        self, node: cst.SimpleString | cst.FormattedString, *, whole: bool
    ) -> cst.BaseExpression | None:
        """``"a.b"`` -> ``"PKG.a.b"`` when its literal head is a complete workspace name.

        ``whole`` says the literal is the entire name (so ``"a"`` alone counts); otherwise the
        head must end in the literal with ``.`` or ``:``.
        """
        if "b" in node.prefix.lower():
            return None
        if isinstance(node, cst.SimpleString):
            body = node.value[len(node.prefix) + len(node.quote) : -len(node.quote)]
            try:
                value = node.evaluated_value
            except Exception:  # noqa: BLE001 - an odd literal is simply not a module name
                return None
            if not isinstance(value, str):
                return None
        else:
            first = node.parts[0] if node.parts else None
            if not isinstance(first, cst.FormattedStringText):
                return None
            body = value = first.value
            whole = whole and len(node.parts) == 1
        head = _HEAD.match(value)
        name = head.group(0) if head else ""
        if name not in self.names or not body.startswith(name):
            return None
        rest = body[len(name) :]
        if rest[:1] not in {".", ":"} and not (whole and not rest):
            return None
        if isinstance(node, cst.SimpleString):
            opening = node.prefix + node.quote
            return node.with_changes(value=f"{opening}{self.package}.{body}{node.quote}")
        first = node.parts[0]
        assert isinstance(first, cst.FormattedStringText)  # noqa: S101 - checked above
        parts = [first.with_changes(value=f"{self.package}.{body}"), *node.parts[1:]]
        return node.with_changes(parts=parts)

    def _name_expr(  # noqa: C901, PLR0911 - one return per expression shape
        self, node: cst.BaseExpression, *, whole: bool = True) -> cst.BaseExpression:
        """Rewrite an expression that evaluates to a module name, as far as it is literal."""
        new: cst.BaseExpression | None = None
        if isinstance(node, cst.Name) and node.value in self.bindings:
            literal = cst.SimpleString(repr(self.bindings[node.value]))
            if self._string(literal, whole=whole) is not None:
                self.flagged.add(node.value)
        elif isinstance(node, (cst.SimpleString, cst.FormattedString)):
            new = self._string(node, whole=whole)
        elif isinstance(node, cst.ConcatenatedString):
            left = node.left
            if isinstance(left, (cst.SimpleString, cst.FormattedString)):
                right_value = (
                    node.right.evaluated_value if isinstance(node.right, cst.SimpleString) else None
                )
                # "a" ".b": the head ends where the right part starts with a dot.
                ends_here = isinstance(right_value, str) and right_value[:1] in {".", ":"}
                rewritten = self._string(left, whole=whole and ends_here)
                if rewritten is not None:
                    return node.with_changes(left=rewritten)
            else:
                return _changed(node, left=self._name_expr(left, whole=whole))
            return node
        elif isinstance(node, cst.IfExp):
            return _changed(
                node,
                body=self._name_expr(node.body, whole=whole),
                orelse=self._name_expr(node.orelse, whole=whole),
            )
        elif isinstance(node, cst.BooleanOperation):
            return _changed(
                node,
                left=self._name_expr(node.left, whole=whole),
                right=self._name_expr(node.right, whole=whole),
            )
        elif isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Modulo)
        ):
            return _changed(node, left=self._name_expr(node.left, whole=False))
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "format"
        ):
            value = self._name_expr(node.func.value, whole=False)
            return _changed(node, func=_changed(node.func, value=value))
        return node if new is None else new

    def _literal_head(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            if isinstance(value, str):
                return value.split(".", 1)[0]
        return None

    def _code(  # noqa: PLR0911 - one return per reason a literal is left alone
        self, node: cst.BaseExpression
    ) -> cst.BaseExpression:
        """A literal holding Python source (``python -c``): rewrite it as a module.

        Only literals without escapes (their text is their value) and ``dedent(literal)`` are
        handled, so the new literal is the rewritten source between the same quotes.
        """
        if (
            isinstance(node, cst.Call)
            and dotted_name(node.func) in {"dedent", "textwrap.dedent"}
            and len(node.args) == 1
        ):
            inner = self._code(node.args[0].value)
            if inner is node.args[0].value:
                return node
            return node.with_changes(args=[node.args[0].with_changes(value=inner)])
        if not isinstance(node, cst.SimpleString) or "b" in node.prefix.lower():
            return node
        body = node.value[len(node.prefix) + len(node.quote) : -len(node.quote)]
        if "\\" in body:
            return node
        rewritten = rewrite_code(body.encode(), self.names, self.package)
        if rewritten is None:
            return node
        new_body = rewritten.decode()
        if node.quote in new_body or new_body.endswith(node.quote[0]):
            return node  # pragma: no cover - rewriting adds names and dots, never quotes
        return node.with_changes(value=f"{node.prefix}{node.quote}{new_body}{node.quote}")
