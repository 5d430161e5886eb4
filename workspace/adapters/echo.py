"""The echo adapter: answers every task with its own text. Needs no network or model."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from adapters.base import (
    AdapterConfig,
    BaseAdapter,
    RuntimeCapabilities,
    TaskContext,
    TaskRequest,
    TaskResult,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Adapter", "EchoAdapter"]


class EchoAdapter(BaseAdapter):
    """Returns the text of each message unchanged; the runtime's reference adapter."""

    def __init__(self, config: AdapterConfig) -> None:
        """Read the optional `prefix` setting."""
        super().__init__(config)
        prefix = config.settings.get("prefix", "")
        self.prefix = prefix if isinstance(prefix, str) else str(prefix)
        self._lock = threading.Lock()
        self._handled = 0

    @classmethod
    def name(cls) -> str:
        """Always `echo`, whatever module path the package gives it."""
        return "echo"

    @classmethod
    def get_config_schema(cls) -> Mapping[str, Any]:
        """One optional setting: a prefix put before every answer."""
        return {
            "type": "object",
            "properties": {"prefix": {"type": "string", "default": ""}},
            "additionalProperties": False,
        }

    def capabilities(self) -> RuntimeCapabilities:
        """Echo can take many tasks at once; it does no work."""
        return RuntimeCapabilities(max_concurrent_tasks=64)

    def handle_task(self, request: TaskRequest, context: TaskContext) -> TaskResult:
        """The request text, behind the configured prefix."""
        del context  # echo remembers nothing
        with self._lock:
            self._handled += 1
        return TaskResult(text=f"{self.prefix}{request.text}")

    def snapshot(self) -> Mapping[str, Any]:
        """How many tasks this adapter answered."""
        with self._lock:
            return {"handled": self._handled}


Adapter = EchoAdapter
