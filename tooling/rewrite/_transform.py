"""The libcst transformers: one for import statements, one for module-name strings.

Both work on any libcst node (a whole module, one statement, one expression), so the fast path
(ast locates candidates, libcst rewrites only those) and the fallback (libcst over the whole file)
share every decision.  A node that does not match is returned unchanged, so untouched code keeps
its exact bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, TypeVar

import libcst as cst

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CALL_NAMES",
    "KINDS",
    "MODULE_NAME_ATTRS",
    "PYTEST_PLUGINS",
    "ImportRewriter",
    "ModuleStringRewriter",
    "dotted_name",
]

# Reference kinds reported in the summary (`--json`), one per kind of position.
KINDS = (
    "import",
    "from_import",
    "import_function",
    "patch_target",
    "sys_modules",
    "module_type",
    "argv_module",
    "argv_code",
    "logger",
    "module_name",
    "pytest_plugins",
    "constant",
)

# Last component of a called name that can take a module name; the ast locator uses the same set
# so its candidates are a superset of what the string transformer rewrites.
_IMPORT_FUNCTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    # name: (positional index, keyword names)
    "import_module": (0, ("name",)),
    "find_spec": (0, ("name", "fullname")),
    "spec_from_file_location": (0, ("name",)),
    "spec_from_loader": (0, ("name",)),
    "resolve_name": (0, ("name",)),
    "importorskip": (0, ("modname",)),
    "run_module": (0, ("mod_name",)),
    # The prefix names the package whose submodules are listed: "adapters." -> "PKG.adapters."
    "iter_modules": (1, ("prefix",)),
    "walk_packages": (1, ("prefix",)),
}
# Logger names: modules log under getLogger(__name__), which the package changes, so a logger
# name that is a workspace module name follows the module (caplog, assertLogs, getLogger).
_LOGGER_FUNCTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "getLogger": (0, ("name",)),
    "set_level": (1, ("logger",)),
    "at_level": (1, ("logger",)),
    "assertLogs": (0, ("logger",)),
    "assertNoLogs": (0, ("logger",)),
}
# Attributes holding a module's dotted name: comparing them with a literal names a module.
MODULE_NAME_ATTRS = frozenset({"__name__", "__module__"})
_RESOURCE_FUNCTIONS = frozenset(
    {"files", "read_text", "read_binary", "open_text", "open_binary", "path", "contents",
     "is_resource"}
)
_SYS_MODULES_METHODS = frozenset(
    {"get", "pop", "setdefault", "__getitem__", "__setitem__", "__delitem__", "__contains__"}
)
CALL_NAMES: frozenset[str] = frozenset(
    {
        *_IMPORT_FUNCTIONS,
        *_RESOURCE_FUNCTIONS,
        *_SYS_MODULES_METHODS,
        *_LOGGER_FUNCTIONS,
        "__import__",
        "ModuleType",
        "get_data",
        "patch",
        "multiple",
        "dict",
        "setattr",
        "delattr",
        "setitem",
        "delitem",
        "update",
        "run",
    }
)

_HEAD = re.compile(r"[^.:]*")


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _prefixed(node: cst.BaseExpression, package: str) -> cst.Attribute:
    """``a.b`` -> ``PKG.a.b``, keeping the original dots and their whitespace."""
    if isinstance(node, cst.Attribute):
        return node.with_changes(value=_prefixed(node.value, package))
    if isinstance(node, cst.Name):
        return cst.Attribute(value=cst.Name(package), attr=node)
    raise TypeError(type(node).__name__)  # pragma: no cover - import names are Name/Attribute


class ImportRewriter(cst.CSTTransformer):
    """Prefix the workspace names in ``import`` and ``from ... import`` statements.

    Binding semantics stay those of the bare layout (issue 2, rule 4):

    - ``import a``       -> ``import PKG.a as a``
    - ``import a as c``  -> ``import PKG.a as c``
    - ``import a.b``     -> ``import PKG.a.b as a, PKG.a as a`` (loads ``a.b``, then binds ``a``
      to the package ``PKG.a``, so ``a.b.x`` works and no new name such as ``PKG`` is bound)
    - ``from a.b import c`` -> ``from PKG.a.b import c``; relative imports are left alone.

    ``import PKG.a as a`` rather than ``from PKG import a``: it goes through ``sys.modules``
    first, so a test that pops ``sys.modules["PKG.a"]`` and imports again gets a fresh module,
    as it would with the bare layout.
    """

    def __init__(self, names: frozenset[str], package: str) -> None:
        """Rewrite imports of ``names`` into ``package``."""
        super().__init__()
        self.names = names
        self.package = package
        self.counts: Counter[str] = Counter()

    def _head(self, node: cst.BaseExpression) -> str | None:
        dotted = dotted_name(node)
        return None if dotted is None else dotted.split(".", 1)[0]

    def visit_Import(self, node: cst.Import) -> bool:  # noqa: N802 - libcst visitor protocol
        """Nothing inside an import needs a visit: leave_Import does the work."""
        del node
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:  # noqa: N802 - libcst protocol
        """As for visit_Import."""
        del node
        return False

    def leave_Import(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import:
        """Rewrite each alias of a workspace name; leave the others (``os``) as they are."""
        del original_node
        aliases: list[cst.ImportAlias] = []
        changed = False
        for alias in updated_node.names:
            head = self._head(alias.name)
            if head is None or head not in self.names:
                aliases.append(alias)
                continue
            changed = True
            self.counts["import"] += 1
            name = _prefixed(alias.name, self.package)
            if alias.asname is not None:
                aliases.append(alias.with_changes(name=name))
            elif isinstance(alias.name, cst.Name):
                aliases.append(alias.with_changes(name=name, asname=cst.AsName(cst.Name(head))))
            else:
                aliases.append(
                    alias.with_changes(
                        name=name,
                        asname=cst.AsName(cst.Name(head)),
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                    )
                )
                aliases.append(
                    cst.ImportAlias(
                        name=_prefixed(cst.Name(head), self.package),
                        asname=cst.AsName(cst.Name(head)),
                        comma=alias.comma,
                    )
                )
        if not changed:
            return updated_node
        return updated_node.with_changes(names=aliases)

    def leave_ImportFrom(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        """Prefix the module of an absolute ``from`` import of a workspace name."""
        del original_node
        if updated_node.relative or updated_node.module is None:
            return updated_node
        head = self._head(updated_node.module)
        if head is None or head not in self.names:
            return updated_node
        self.counts["from_import"] += 1
        return updated_node.with_changes(module=_prefixed(updated_node.module, self.package))


PYTEST_PLUGINS = "pytest_plugins"
"""The conftest variable whose strings name plugin modules."""


def _is_name_attr(node: cst.BaseExpression) -> bool:
    """``__name__`` or ``x.__name__`` / ``x.__module__``."""
    if isinstance(node, cst.Name):
        return node.value == "__name__"
    return isinstance(node, cst.Attribute) and node.attr.value in MODULE_NAME_ATTRS


def _changed_elements(
    node: cst.List | cst.Tuple, elements: list[cst.BaseElement]
) -> cst.List | cst.Tuple:
    if all(a is b for a, b in zip(elements, node.elements, strict=True)):
        return node
    return node.with_changes(elements=elements)


def _is_sys_modules(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Attribute) and node.attr.value == "modules":
        value = node.value
        return isinstance(value, cst.Name) and value.value in {"sys", "_sys"}
    if isinstance(node, cst.SimpleString):
        return node.raw_value == "sys.modules" and "b" not in node.prefix.lower()
    return False


def _arg(call: cst.Call, index: int, keywords: Sequence[str]) -> cst.Arg | None:
    """The argument at ``index`` (positional) or given by one of ``keywords``."""
    position = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value in keywords:
                return arg
            continue
        if position == index:
            return arg
        position += 1
    return None


_Node = TypeVar("_Node", bound=cst.CSTNode)


def _changed(node: _Node, **children: cst.CSTNode) -> _Node:
    """``node`` with new children, or ``node`` itself when every child is unchanged."""
    if all(getattr(node, key) is value for key, value in children.items()):
        return node
    return node.with_changes(**children)


def _replace_arg(call: cst.Call, old: cst.Arg, new: cst.Arg) -> cst.Call:
    return call.with_changes(args=[new if arg is old else arg for arg in call.args])


class ModuleStringRewriter(cst.CSTTransformer):
    """Prefix workspace module names in strings that sit in module-reference positions.

    Positions (issue 2, rule 3): the import functions, resource and ``-m`` argv lookups, patch
    targets (``mock.patch``, ``mocker.patch``, ``monkeypatch.setattr/delattr``), ``ModuleType``
    names and ``sys.modules`` keys in every spelling.  Inside a position the name may be a plain
    string, an f-string or concatenation whose literal head names the module, or a conditional /
    boolean expression of those.  Every other string is left alone.
    """

    def __init__(
        self, names: frozenset[str], package: str, bindings: Mapping[str, str] | None = None
    ) -> None:
        """Rewrite module-name strings of ``names`` into ``package``.

        ``bindings`` maps variables to the one string constant each holds; a variable found in
        a module-reference position is not changed but recorded in ``flagged``, so the caller
        can rewrite the constant where it is defined.
        """
        super().__init__()
        self.names = names
        self.package = package
        self.bindings = bindings or {}
        self.flagged: set[str] = set()
        self.counts: Counter[str] = Counter()

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

    def _rewrite_arg(self, call: cst.Call, arg: cst.Arg | None, kind: str) -> cst.Call:
        if arg is None:
            return call
        value = self._name_expr(arg.value)
        if value is arg.value:
            return call
        self.counts[kind] += 1
        return _replace_arg(call, arg, arg.with_changes(value=value))

    def _dict_keys(self, node: cst.BaseExpression, kind: str) -> cst.BaseExpression:
        if isinstance(node, cst.Dict):
            elements: list[cst.BaseDictElement] = []
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    key = self._name_expr(element.key)
                    if key is not element.key:
                        self.counts[kind] += 1
                        element = element.with_changes(key=key)  # noqa: PLW2901
                elements.append(element)
            return node.with_changes(elements=elements)
        if isinstance(node, cst.DictComp):
            key = self._name_expr(node.key)
            if key is not node.key:
                self.counts[kind] += 1
                return node.with_changes(key=key)
        return node

    # -- positions --------------------------------------------------------------------------

    def visit_FormattedStringExpression(  # noqa: N802 - libcst visitor protocol
        self, node: cst.FormattedStringExpression
    ) -> bool:
        """Skip code inside f-string replacement fields (the ast locator skips it too)."""
        del node
        return False

    def leave_Call(  # noqa: C901, N802, PLR0911, PLR0912 - one branch per documented position
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        """Rewrite the module-name argument of a call in a module-reference position."""
        del original_node
        call = updated_node
        dotted = dotted_name(call.func)
        if dotted is None:
            return call
        parts = dotted.split(".")
        last = parts[-1]
        receiver = parts[-2] if len(parts) > 1 else ""
        if last not in CALL_NAMES:
            return call
        if dotted in {"__import__", "builtins.__import__", "importlib.__import__"}:
            return self._dunder_import(call)
        if last in _IMPORT_FUNCTIONS:
            index, keywords = _IMPORT_FUNCTIONS[last]
            call = self._rewrite_arg(call, _arg(call, index, keywords), "import_function")
            if last == "import_module":
                call = self._rewrite_arg(call, _arg(call, 1, ("package",)), "import_function")
            return call
        if last in _LOGGER_FUNCTIONS:
            return self._logger(call, dotted, parts)
        if last == "ModuleType":
            return self._rewrite_arg(call, _arg(call, 0, ("name",)), "module_type")
        if last == "get_data" and receiver == "pkgutil":
            return self._rewrite_arg(call, _arg(call, 0, ("package",)), "import_function")
        if last in _RESOURCE_FUNCTIONS and receiver in {"resources", "importlib_resources"}:
            return self._rewrite_arg(call, _arg(call, 0, ("package", "anchor")), "import_function")
        if dotted == "uvicorn.run":
            return self._rewrite_arg(call, _arg(call, 0, ("app",)), "import_function")
        mocky = any("mock" in part for part in parts[:-1])
        if (last == "patch" and (dotted == "patch" or mocky)) or (
            last == "multiple" and receiver == "patch"
        ):
            return self._rewrite_arg(call, _arg(call, 0, ("target",)), "patch_target")
        if last == "dict" and receiver == "patch":
            first = _arg(call, 0, ("in_dict",))
            if first is not None and _is_sys_modules(first.value):
                values = _arg(call, 1, ("values",))
                if values is not None:
                    new = self._dict_keys(values.value, "sys_modules")
                    if new is not values.value:
                        return _replace_arg(call, values, values.with_changes(value=new))
                return call
            return self._rewrite_arg(call, first, "patch_target")
        if last in {"setattr", "delattr"} and len(parts) > 1:
            first = _arg(call, 0, ("target",))
            if first is not None and not isinstance(first.value, (cst.Name, cst.Attribute)):
                return self._rewrite_arg(call, first, "patch_target")
            return call
        if last in {"setitem", "delitem"}:
            first = _arg(call, 0, ("dic",))
            if first is not None and _is_sys_modules(first.value):
                return self._rewrite_arg(call, _arg(call, 1, ("name",)), "sys_modules")
            return call
        if isinstance(call.func, cst.Attribute) and _is_sys_modules(call.func.value):
            if last in _SYS_MODULES_METHODS:
                return self._rewrite_arg(call, _arg(call, 0, ("key",)), "sys_modules")
            if last == "update" and call.args:
                first_arg = call.args[0]
                new = self._dict_keys(first_arg.value, "sys_modules")
                if new is not first_arg.value:
                    return _replace_arg(call, first_arg, first_arg.with_changes(value=new))
        return call

    def _logger(self, call: cst.Call, dotted: str, parts: list[str]) -> cst.Call:
        last = parts[-1]
        if last == "getLogger":
            if dotted not in {"getLogger", "logging.getLogger"}:
                return call
        elif last in {"set_level", "at_level"}:
            if len(parts) < 2 or parts[-2] != "caplog":  # noqa: PLR2004 - receiver.method
                return call
        elif len(parts) < 2:  # noqa: PLR2004 - self.assertLogs(...)
            return call
        index, keywords = _LOGGER_FUNCTIONS[last]
        return self._rewrite_arg(call, _arg(call, index, keywords), "logger")

    def _dunder_import(self, call: cst.Call) -> cst.BaseExpression:
        """``__import__("a.b")`` returns the top package: keep that with ``(...).a``."""
        arg = _arg(call, 0, ("name",))
        if arg is None:
            return call
        value = self._name_expr(arg.value)
        if value is arg.value:
            return call
        self.counts["import_function"] += 1
        new_call = _replace_arg(call, arg, arg.with_changes(value=value))
        fromlist = _arg(call, 3, ("fromlist",))
        literal_empty = fromlist is not None and (
            (isinstance(fromlist.value, (cst.List, cst.Tuple)) and not fromlist.value.elements)
            or (isinstance(fromlist.value, cst.Name) and fromlist.value.value == "None")
        )
        if fromlist is not None and not literal_empty:
            return new_call
        head = self._literal_head(arg.value)
        if head is None:
            return new_call
        return cst.Attribute(value=new_call, attr=cst.Name(head))

    def _literal_head(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            if isinstance(value, str):
                return value.split(".", 1)[0]
        return None

    def leave_Subscript(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.Subscript:
        """``sys.modules["a"]`` (load, store or del) -> ``sys.modules["PKG.a"]``."""
        del original_node
        if not _is_sys_modules(updated_node.value) or len(updated_node.slice) != 1:
            return updated_node
        element = updated_node.slice[0]
        if not isinstance(element.slice, cst.Index):
            return updated_node
        value = self._name_expr(element.slice.value)
        if value is element.slice.value:
            return updated_node
        self.counts["sys_modules"] += 1
        index = element.slice.with_changes(value=value)
        return updated_node.with_changes(slice=[element.with_changes(slice=index)])

    def leave_Comparison(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.Comparison, updated_node: cst.Comparison
    ) -> cst.Comparison:
        """``"a" in sys.modules`` / ``not in`` -> ``"PKG.a" in sys.modules``."""
        del original_node
        if len(updated_node.comparisons) != 1:
            return updated_node
        target = updated_node.comparisons[0]
        if isinstance(target.operator, (cst.Equal, cst.NotEqual)):
            return self._name_comparison(updated_node, target)
        if not isinstance(target.operator, (cst.In, cst.NotIn)) or not _is_sys_modules(
            target.comparator
        ):
            return updated_node
        left = self._name_expr(updated_node.left)
        if left is updated_node.left:
            return updated_node
        self.counts["sys_modules"] += 1
        return updated_node.with_changes(left=left)

    def _name_comparison(
        self, node: cst.Comparison, target: cst.ComparisonTarget
    ) -> cst.Comparison:
        """``__name__ == "a"`` / ``m.__module__ != "a.b"``: the literal names a module."""
        left, right = node.left, target.comparator
        if _is_name_attr(left):
            new = self._name_expr(right)
            if new is not right:
                self.counts["module_name"] += 1
                return node.with_changes(comparisons=[target.with_changes(comparator=new)])
        elif _is_name_attr(right):
            new = self._name_expr(left)
            if new is not left:
                self.counts["module_name"] += 1
                return node.with_changes(left=new)
        return node

    def _argv(self, elements: Sequence[cst.BaseElement]) -> list[cst.BaseElement] | None:
        """``[..., "-m", "a.b", ...]`` names a module; ``[..., "-c", "import a"]`` is code."""
        out = list(elements)
        changed = False
        for i, element in enumerate(elements[:-1]):
            value = element.value
            if not isinstance(value, cst.SimpleString) or value.raw_value not in {"-m", "-c"}:
                continue
            nxt = elements[i + 1]
            if value.raw_value == "-m":
                new = self._name_expr(nxt.value)
                kind = "argv_module"
            else:
                new = self._code(nxt.value)
                kind = "argv_code"
            if new is not nxt.value:
                out[i + 1] = nxt.with_changes(value=new)
                self.counts[kind] += 1
                changed = True
        return out if changed else None

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
        from tooling.rewrite._source import rewrite_source  # noqa: PLC0415 - import cycle

        result = rewrite_source(body.encode(), self.names, self.package, path="<-c>")
        if result.problems or not result.changed:
            return node
        new_body = result.code.decode()
        if node.quote in new_body or new_body.endswith(node.quote[0]):
            return node  # pragma: no cover - rewriting adds names and dots, never quotes
        return node.with_changes(value=f"{node.prefix}{node.quote}{new_body}{node.quote}")

    def leave_Assign(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.Assign, updated_node: cst.Assign
    ) -> cst.Assign:
        """``pytest_plugins = ["a.plugin", ...]`` (or one string): each names a module."""
        del original_node
        if len(updated_node.targets) != 1:
            return updated_node
        target = updated_node.targets[0].target
        if not isinstance(target, cst.Name) or target.value != PYTEST_PLUGINS:
            return updated_node
        value = updated_node.value
        if isinstance(value, (cst.List, cst.Tuple)):
            elements: list[cst.BaseElement] = []
            for element in value.elements:
                new = self._name_expr(element.value)
                if new is not element.value:
                    self.counts["pytest_plugins"] += 1
                    element = element.with_changes(value=new)  # noqa: PLW2901
                elements.append(element)
            new_value: cst.BaseExpression = _changed_elements(value, elements)
        else:
            new_value = self._name_expr(value)
            if new_value is not value:
                self.counts["pytest_plugins"] += 1
        return _changed(updated_node, value=new_value)

    def leave_List(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.List, updated_node: cst.List
    ) -> cst.List:
        """``[sys.executable, "-m", "a"]`` -> ``[..., "-m", "PKG.a"]``."""
        del original_node
        new = self._argv(updated_node.elements)
        return updated_node if new is None else updated_node.with_changes(elements=new)

    def leave_Tuple(  # noqa: N802 - libcst visitor protocol
        self, original_node: cst.Tuple, updated_node: cst.Tuple
    ) -> cst.Tuple:
        """As for lists: ``(sys.executable, "-m", "a")``."""
        del original_node
        new = self._argv(updated_node.elements)
        return updated_node if new is None else updated_node.with_changes(elements=new)
