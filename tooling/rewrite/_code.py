"""The rewriter of Python source held in a ``python -c`` literal, installed by its driver.

The string transformer meets code inside literals and must rewrite it the way a whole file is
rewritten.  The per-file driver (``_source``) installs itself here at import, so no module
below it imports the driver back.  No libcst here: the no-op build imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["rewrite_code", "set_code_rewriter"]

_installed: list[Callable[[bytes, frozenset[str], str], bytes | None]] = []


def set_code_rewriter(rewriter: Callable[[bytes, frozenset[str], str], bytes | None]) -> None:
    """Install the function that rewrites ``-c`` code: bytes, names, package -> bytes or None."""
    _installed[:] = [rewriter]


def rewrite_code(code: bytes, names: frozenset[str], package: str) -> bytes | None:
    """The rewritten ``code``, or None when nothing changes, it does not parse, or no driver."""
    return _installed[0](code, names, package) if _installed else None
