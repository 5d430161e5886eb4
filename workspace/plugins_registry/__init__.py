"""Plugins: installed distributions that extend the runtime through an entry point.

A plugin distribution declares, in its packaging metadata::

    [project.entry-points."molecule_runtime.plugins"]
    my-plugin = "my_package.plugin:MyPlugin"

The object named is a `Plugin` (or a class whose no-argument instance is one). At start-up
the runtime discovers every plugin, skips those built for another `PLUGIN_API_VERSION`, and
calls `register(context)` so each can add tools, policies and event handlers.

This module is public API, guarded by the release pipeline's API gate through `__all__`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from events import EventBus, Handler
    from policies import Policy

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "Plugin",
    "PluginContext",
    "PluginInfo",
    "discover_plugins",
    "load_plugins",
]

# Bumped when `Plugin` or `PluginContext` change incompatibly.
PLUGIN_API_VERSION = 1
ENTRY_POINT_GROUP = "molecule_runtime.plugins"

log = logging.getLogger(__name__)


@runtime_checkable
class Plugin(Protocol):
    """What a plugin provides."""

    name: str
    api_version: int

    def register(self, context: PluginContext) -> None:
        """Add tools, policies and event handlers to the runtime through ``context``."""


@dataclass
class PluginContext:
    """What a plugin may touch while it registers; the runtime reads the result."""

    workspace_id: str
    """The workspace the runtime serves."""
    events: EventBus
    """The runtime's event bus."""
    tools: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """Tools by name, offered to the adapter with each task."""
    policies: list[Policy] = field(default_factory=list)
    """Extra policies run on every incoming task after the configured ones."""

    def add_tool(self, name: str, tool: Callable[..., Any]) -> None:
        """Offer ``tool`` to the adapter as ``name``; names are unique."""
        if name in self.tools:
            raise ValueError(f"tool {name!r} is already registered")
        self.tools[name] = tool

    def add_policy(self, policy: Policy) -> None:
        """Check every incoming task with ``policy`` too."""
        self.policies.append(policy)

    def subscribe(self, kind: str, handler: Handler) -> None:
        """Call ``handler`` on every runtime event of ``kind`` (`*` for all)."""
        self.events.subscribe(kind, handler)


@dataclass(frozen=True)
class PluginInfo:
    """One discovered plugin and what became of it."""

    name: str
    """The entry point name."""
    target: str
    """The entry point value, `module:attribute`."""
    distribution: str | None
    """The distribution that declares it, when known."""
    plugin: Plugin | None = None
    """The loaded plugin; None when it was skipped or failed."""
    error: str | None = None
    """Why it was skipped or failed; None when it loaded."""


def discover_plugins(enabled: Collection[str] | None = None) -> list[PluginInfo]:
    """Every plugin installed (only ``enabled`` names, when given), loaded and checked."""
    found: list[PluginInfo] = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if enabled is not None and entry.name not in enabled:
            continue
        dist = entry.dist.name if entry.dist is not None else None
        found.append(_load(entry, dist))
    return found


def _load(entry: metadata.EntryPoint, dist: str | None) -> PluginInfo:
    def failed(reason: str) -> PluginInfo:
        log.warning("plugin %s (%s) skipped: %s", entry.name, entry.value, reason)
        return PluginInfo(entry.name, entry.value, dist, error=reason)

    try:
        obj = entry.load()
        plugin = obj() if isinstance(obj, type) else obj
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the runtime
        return failed(f"cannot load: {type(exc).__name__}: {exc}")
    if not isinstance(plugin, Plugin):
        return failed("not a plugin: needs `name`, `api_version` and `register(context)`")
    if plugin.api_version != PLUGIN_API_VERSION:
        return failed(
            f"built for plugin API {plugin.api_version}, the runtime has {PLUGIN_API_VERSION}"
        )
    return PluginInfo(entry.name, entry.value, dist, plugin=plugin)


def load_plugins(
    context: PluginContext, enabled: Collection[str] | None = None
) -> list[PluginInfo]:
    """Discover plugins and let each loaded one register itself into ``context``."""
    results: list[PluginInfo] = []
    for info in discover_plugins(enabled):
        if info.plugin is None:
            results.append(info)
            continue
        try:
            info.plugin.register(context)
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not stop the others
            log.warning("plugin %s failed to register: %s", info.name, exc)
            error = f"register failed: {exc}"
            results.append(PluginInfo(info.name, info.target, info.distribution, error=error))
        else:
            results.append(info)
    return results
