"""The adapter protocol: what a runtime adapter implements and what the runtime hands it.

This module is public API. Template repositories subclass `BaseAdapter` and pin a release of
this package, so a removed or renamed name here breaks them: the release pipeline's API gate
reads `__all__` and refuses to ship such a change as anything but a major bump.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from builtin_tools.audit import AuditLog
    from builtin_tools.memory import MemoryStore

__all__ = [
    "ADAPTER_PROTOCOL_VERSION",
    "AdapterConfig",
    "AdapterError",
    "BaseAdapter",
    "RuntimeCapabilities",
    "TaskContext",
    "TaskRequest",
    "TaskResult",
]

# Bumped when the contract between runtime and adapter changes incompatibly; the runtime
# refuses an adapter built for another protocol instead of failing on the first task.
ADAPTER_PROTOCOL_VERSION = 1


class AdapterError(Exception):
    """An adapter cannot be found, loaded or run; the message says which and why."""


@dataclass(frozen=True)
class RuntimeCapabilities:
    """What an adapter can do; advertised to peers in the agent card."""

    streaming: bool = False
    """Whether the adapter can stream partial results (the runtime serves them whole)."""
    memory: bool = False
    """Whether the adapter reads or writes the workspace memory store."""
    tools: bool = False
    """Whether the adapter calls tools (skills, plugins) while working on a task."""
    max_concurrent_tasks: int = 4
    """Tasks handled at once; more are refused with a busy error rather than queued."""


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter is configured with, taken from the runtime configuration."""

    workspace_id: str
    """The workspace this runtime serves."""
    runtime: str
    """The configured runtime (adapter) name."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The `adapter:` mapping of the configuration file, passed through unchanged."""
    data_dir: Path | None = None
    """A directory the adapter may keep state in; None when the runtime has none."""


@dataclass(frozen=True)
class TaskRequest:
    """One incoming task: an A2A `message/send` call reduced to what an adapter needs."""

    task_id: str
    """Unique per task; appears in the audit log and the snapshot."""
    text: str
    """The text parts of the message joined by newlines."""
    parts: tuple[Mapping[str, Any], ...] = ()
    """The message parts as received (text, data, file), for adapters that need more."""
    context_id: str | None = None
    """The A2A context (conversation) id, when the sender gave one."""
    sender: str | None = None
    """The sending workspace id, when the sender identified itself in the metadata."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """The message metadata as received."""


@dataclass(frozen=True)
class TaskResult:
    """An adapter's answer to one task."""

    text: str
    """The answer text; returned to the sender as one text part."""
    data: Mapping[str, Any] | None = None
    """Optional structured data, returned as an additional data part."""


@dataclass(frozen=True)
class TaskContext:
    """What the runtime lends an adapter while it works on one task."""

    memory: MemoryStore | None = None
    """The workspace memory store, when one is configured."""
    audit: AuditLog | None = None
    """The audit log, for adapters that record their own actions."""
    tools: Mapping[str, Any] = field(default_factory=dict)
    """Callables by name: skills and plugin tools the adapter may call."""


class BaseAdapter(abc.ABC):
    """The base of every runtime adapter: subclass it and implement `handle_task`.

    A template repository exports its subclass as the module attribute `Adapter` and sets
    `ADAPTER_MODULE` to that module; a built-in adapter lives in `adapters/<name>.py`.
    """

    protocol_version: ClassVar[int] = ADAPTER_PROTOCOL_VERSION

    def __init__(self, config: AdapterConfig) -> None:
        """Keep the configuration; heavy set-up belongs in `setup`."""
        self.config = config

    @classmethod
    def name(cls) -> str:
        """The runtime name this adapter answers to (`runtime:` in the configuration)."""
        return cls.__module__.rpartition(".")[2]

    @classmethod
    def display_name(cls) -> str:
        """A human-readable name for the agent card."""
        return cls.name().replace("-", " ").replace("_", " ").title()

    @classmethod
    def description(cls) -> str:
        """One sentence about what the adapter does, for the agent card."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def get_config_schema(cls) -> Mapping[str, Any]:
        """A JSON-schema fragment describing the `adapter:` settings this adapter accepts."""
        return {"type": "object", "properties": {}, "additionalProperties": True}

    def capabilities(self) -> RuntimeCapabilities:
        """What this adapter can do; the default is a plain one-shot responder."""
        return RuntimeCapabilities()

    def setup(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Prepare to serve (load models, open clients); called once before the first task."""

    @abc.abstractmethod
    def handle_task(self, request: TaskRequest, context: TaskContext) -> TaskResult:
        """Work on one task and return its result; raise AdapterError for a clean failure."""

    def snapshot(self) -> Mapping[str, Any]:
        """State worth keeping across a restart; written into the pre-stop snapshot."""
        return {}

    def teardown(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release what `setup` acquired; called once on shutdown."""
