"""The generated package ``__init__``: top-level workspace modules keep their sys.modules semantics.

On the source layout ``import config`` reads ``sys.modules["config"]``.  The rewrite
``import PKG.config as config`` reads the *attribute* ``PKG.config`` first (IMPORT_FROM) and
only falls back to ``sys.modules["PKG.config"]`` when it is missing, so a test that swaps
``sys.modules["PKG.config"]`` for a stub after the real module was imported would still get the
real module (and ``monkeypatch.setattr("PKG.config.x", ...)`` would patch it, not the stub).

The fix sits in the package, not in each statement: the ``__init__`` gives the package module
a ``types.ModuleType`` subclass with one data descriptor per shipped top-level workspace name.
Reading ``PKG.name`` returns ``sys.modules["PKG.name"]`` (AttributeError when absent, so the
import system imports it); the import system's ``setattr(PKG, name, module)`` after loading a
submodule stores nothing.  Data descriptors win over the instance ``__dict__``, so the hook
holds even for names an existing ``__init__`` bound itself, whenever it was installed.  Every
other attribute (``__version__``, the ``__init__``'s own names) is stored and read as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tooling.rewrite._aliases import install_snippet

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["HOOK_FUNCTION", "hook_block", "package_init"]

HOOK_FUNCTION = "_bare_module_semantics"
"""The private function the block defines, calls once and deletes."""

# Plain Python for every supported version (3.11+); it runs inside the generated package.
_HOOK = '''\
# Added by tooling.rewrite: PKG.<top-level workspace module> is always sys.modules["PKG.<name>"],
# as `import <name>` reads sys.modules["<name>"] on the source layout (docs/rewrite.md).
def {function}(names):
    import sys

    package = sys.modules[__name__]
    base = type(package)
    if getattr(base, "_bare_module_names", None) == names:
        return  # importlib.reload() of the package: already installed
    prefix = __name__ + "."

    def entry(name):
        key = prefix + name

        def read(module):
            found = sys.modules.get(key)
            if found is None:  # not imported (or blocked): let the import system import it
                raise AttributeError(name)
            return found

        def ignore(module, value=None):
            """The import system's setattr(package, name, submodule): sys.modules has it."""

        return property(read, ignore, ignore)

    def listing(module):
        own = module.__dict__.get("__dir__")
        shown = own() if own is not None else list(module.__dict__)
        loaded = (n for n in names if sys.modules.get(prefix + n) is not None)
        return sorted({{*shown, *loaded}})

    namespace = {{name: entry(name) for name in names}}
    namespace.update(__dir__=listing, _bare_module_names=names, __module__=__name__)
    package.__class__ = type("BareModulePackage", (base,), namespace)


{function}((
{names}))
del {function}
'''


def hook_block(names: Iterable[str], newline: str = "\n") -> str:
    """The lines that install the sys.modules semantics for the top-level ``names``."""
    listed = "".join(f"    {name!r},\n" for name in sorted(names))
    text = _HOOK.format(function=HOOK_FUNCTION, names=listed)
    return text.replace("\n", newline)


def _newline_of(code: bytes) -> str:
    index = code.find(b"\n")
    if index > 0 and code[index - 1 : index] == b"\r":
        return "\r\n"
    return "\n"


def package_init(
    existing: bytes | None,
    *,
    package: str,
    source_name: str,
    names: Iterable[str],
    aliases: Sequence[str],
) -> bytes:
    """``PKG/__init__.py``: the source's own ``__init__`` (byte-identical) plus the hook lines.

    A generated ``__init__`` is a docstring, then the hook, so it is active before anything
    else runs.  An existing one keeps every byte and gets the hook appended: its docstring,
    ``from __future__`` imports and coding cookie must stay first, and because the descriptors
    shadow whatever the ``__init__`` stored, installing at its end changes nothing afterwards.
    The result always ends with a newline, so the build can append its ``__version__`` block.
    """
    names = tuple(names)
    if existing is None:
        newline = "\n"
        code = f'"""The {package} package, generated from {source_name}/ by tooling.rewrite."""\n'
        head = code.encode()
    else:
        newline = _newline_of(existing)
        tail = b"" if not existing or existing.endswith((b"\n", b"\r")) else newline.encode()
        head = existing + tail
    parts: list[str] = []
    if names:
        parts.append(newline + hook_block(names, newline))
    if aliases:
        parts.append(newline + install_snippet(newline))
    return head + "".join(parts).encode("ascii")
