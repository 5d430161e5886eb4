"""The module-name-string transformer: rewrites names in the module-reference positions."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import libcst as cst

from tooling.rewrite._imports import dotted_name
from tooling.rewrite._literals import NameLiterals, _changed
from tooling.rewrite._positions import (
    CALL_NAMES,
    IMPORT_FUNCTIONS,
    LOGGER_FUNCTIONS,
    MODULE_NAME_ATTRS,
    PYTEST_PLUGINS,
    RESOURCE_FUNCTIONS,
    SYS_MODULES_METHODS,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["ModuleStringRewriter"]


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


def _replace_arg(call: cst.Call, old: cst.Arg, new: cst.Arg) -> cst.Call:
    return call.with_changes(args=[new if arg is old else arg for arg in call.args])


class ModuleStringRewriter(NameLiterals, cst.CSTTransformer):
    """Prefix workspace module names in strings that sit in module-reference positions.

    Positions: the import functions, resource and ``-m`` argv lookups, patch
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

    def visit_FormattedStringExpression(
        self, node: cst.FormattedStringExpression
    ) -> bool:
        """Skip code inside f-string replacement fields (the ast locator skips it too)."""
        del node
        return False

    def leave_Call(  # noqa: C901, PLR0911, PLR0912 - one branch per documented position
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
        if last in IMPORT_FUNCTIONS:
            index, keywords = IMPORT_FUNCTIONS[last]
            call = self._rewrite_arg(call, _arg(call, index, keywords), "import_function")
            if last == "import_module":
                call = self._rewrite_arg(call, _arg(call, 1, ("package",)), "import_function")
            return call
        if last in LOGGER_FUNCTIONS:
            return self._logger(call, dotted, parts)
        if last == "ModuleType":
            return self._rewrite_arg(call, _arg(call, 0, ("name",)), "module_type")
        if last == "get_data" and receiver == "pkgutil":
            return self._rewrite_arg(call, _arg(call, 0, ("package",)), "import_function")
        if last in RESOURCE_FUNCTIONS and receiver in {"resources", "importlib_resources"}:
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
            if last in SYS_MODULES_METHODS:
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
            if len(parts) < 2 or parts[-2] != "caplog":
                return call
        elif len(parts) < 2:
            return call
        index, keywords = LOGGER_FUNCTIONS[last]
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

    def leave_Subscript(
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

    def leave_Comparison(
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

    def leave_Assign(
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

    def leave_List(
        self, original_node: cst.List, updated_node: cst.List
    ) -> cst.List:
        """``[sys.executable, "-m", "a"]`` -> ``[..., "-m", "PKG.a"]``."""
        del original_node
        new = self._argv(updated_node.elements)
        return updated_node if new is None else updated_node.with_changes(elements=new)

    def leave_Tuple(
        self, original_node: cst.Tuple, updated_node: cst.Tuple
    ) -> cst.Tuple:
        """As for lists: ``(sys.executable, "-m", "a")``."""
        del original_node
        new = self._argv(updated_node.elements)
        return updated_node if new is None else updated_node.with_changes(elements=new)
