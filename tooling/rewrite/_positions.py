"""The module-reference position table: which calls and names take a module name (no libcst)."""

from __future__ import annotations

__all__ = [
    "CALL_NAMES",
    "IMPORT_FUNCTIONS",
    "KINDS",
    "LOGGER_FUNCTIONS",
    "MODULE_NAME_ATTRS",
    "PYTEST_PLUGINS",
    "RESOURCE_FUNCTIONS",
    "SYS_MODULES_METHODS",
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
IMPORT_FUNCTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
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
LOGGER_FUNCTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "getLogger": (0, ("name",)),
    "set_level": (1, ("logger",)),
    "at_level": (1, ("logger",)),
    "assertLogs": (0, ("logger",)),
    "assertNoLogs": (0, ("logger",)),
}
# Attributes holding a module's dotted name: comparing them with a literal names a module.
MODULE_NAME_ATTRS = frozenset({"__name__", "__module__"})
RESOURCE_FUNCTIONS = frozenset(
    {"files", "read_text", "read_binary", "open_text", "open_binary", "path", "contents",
     "is_resource"}
)
SYS_MODULES_METHODS = frozenset(
    {"get", "pop", "setdefault", "__getitem__", "__setitem__", "__delitem__", "__contains__"}
)
CALL_NAMES: frozenset[str] = frozenset(
    {
        *IMPORT_FUNCTIONS,
        *RESOURCE_FUNCTIONS,
        *SYS_MODULES_METHODS,
        *LOGGER_FUNCTIONS,
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

PYTEST_PLUGINS = "pytest_plugins"
"""The conftest variable whose strings name plugin modules."""
