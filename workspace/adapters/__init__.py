"""Adapter discovery: which `BaseAdapter` subclass serves this workspace.

`ADAPTER_MODULE` wins (a template repository's Docker image sets it to its own module, which
exports `Adapter`); otherwise the configured runtime name picks a built-in adapter from this
package, `adapters/<name>.py`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import TYPE_CHECKING

from adapters.base import ADAPTER_PROTOCOL_VERSION, AdapterError, BaseAdapter

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ADAPTER_MODULE_ENV", "available_adapters", "get_adapter", "load_adapter_module"]

ADAPTER_MODULE_ENV = "ADAPTER_MODULE"

# Modules in this package that are not adapters.
_NOT_ADAPTERS = frozenset({"base"})


def available_adapters() -> list[str]:
    """The names of the built-in adapters, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in _NOT_ADAPTERS
    )


def load_adapter_module(module_name: str) -> type[BaseAdapter]:
    """The `Adapter` class exported by ``module_name``, checked against the protocol."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"{ADAPTER_MODULE_ENV}: cannot import {module_name!r}: {exc}") from exc
    adapter = getattr(module, "Adapter", None)
    if adapter is None:
        raise AdapterError(
            f"{ADAPTER_MODULE_ENV}: module {module_name!r} has no `Adapter` attribute; "
            "export your BaseAdapter subclass as `Adapter`"
        )
    return _checked(adapter, f"{module_name}.Adapter")


def get_adapter(runtime: str | None, env: Mapping[str, str] | None = None) -> type[BaseAdapter]:
    """The adapter class for this workspace: `ADAPTER_MODULE` first, then ``runtime``."""
    environ = os.environ if env is None else env
    module_name = environ.get(ADAPTER_MODULE_ENV, "").strip()
    if module_name:
        return load_adapter_module(module_name)
    if not runtime:
        raise AdapterError(
            "runtime: no adapter configured; set `runtime:` (built-in: "
            f"{', '.join(available_adapters())}) or {ADAPTER_MODULE_ENV}"
        )
    if not runtime.isidentifier() or runtime not in available_adapters():
        raise AdapterError(
            f"runtime: unknown adapter {runtime!r}; built-in adapters are "
            f"{', '.join(available_adapters())}, or set {ADAPTER_MODULE_ENV} to your module"
        )
    try:
        module = importlib.import_module(f"adapters.{runtime}")
    except ImportError as exc:
        raise AdapterError(f"runtime: adapter {runtime!r} failed to import: {exc}") from exc
    return _checked(getattr(module, "Adapter", None), f"adapters.{runtime}.Adapter")


def _checked(candidate: object, where: str) -> type[BaseAdapter]:
    if not (isinstance(candidate, type) and issubclass(candidate, BaseAdapter)):
        raise AdapterError(f"{where}: must be a subclass of BaseAdapter, got {candidate!r}")
    version = getattr(candidate, "protocol_version", None)
    if version != ADAPTER_PROTOCOL_VERSION:
        raise AdapterError(
            f"{where}: built for adapter protocol {version}, this runtime speaks "
            f"{ADAPTER_PROTOCOL_VERSION}; install a runtime release matching the adapter"
        )
    return candidate
