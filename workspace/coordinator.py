"""The coordinator: turns A2A messages into adapter tasks and keeps the books.

It validates each incoming message, runs the policies, hands the task to the adapter within
its concurrency limit, records the outcome in the audit log and on the event bus, and writes
the pre-stop snapshot. It also delegates work to peers on the adapter's behalf.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import builtin_tools.audit
import builtin_tools.memory
from adapters.base import AdapterError, TaskContext, TaskRequest
from events import EventBus
from policies import PolicyDenied, build_policies, enforce

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from adapters.base import BaseAdapter
    from config import RuntimeConfig
    from policies import Policy
    from skill_loader import Skill

__all__ = ["Coordinator", "TaskRejected", "TaskStats"]

log = logging.getLogger(__name__)

# JSON-RPC error codes the A2A server returns for rejected tasks.
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_FAILED = -32000
POLICY_DENIED = -32010
BUSY = -32011
_PART_KINDS = frozenset({"text", "data", "file"})


class TaskRejected(Exception):
    """A message was not (or not successfully) handled; carries the JSON-RPC error code."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the JSON-RPC error code."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TaskStats:
    """Task counts since start."""

    handled: int
    """Tasks the adapter answered."""
    failed: int
    """Tasks the adapter failed."""
    denied: int
    """Tasks a policy refused or the concurrency limit turned away."""
    active: tuple[str, ...]
    """Ids of tasks in progress."""


class Coordinator:
    """Runs tasks through policies and the adapter; one per runtime process."""

    def __init__(
        self,
        config: RuntimeConfig,
        adapter: BaseAdapter,
        *,
        events: EventBus | None = None,
        memory: builtin_tools.memory.MemoryStore | None = None,
        audit: builtin_tools.audit.AuditLog | None = None,
        policies: Iterable[Policy] = (),
        tools: Mapping[str, Callable[..., Any]] | None = None,
        skills: Iterable[Skill] = (),
        version: str = "",
    ) -> None:
        """Assemble a coordinator from parts; `from_config` builds them from the configuration."""
        self.config = config
        self.adapter = adapter
        self.events = events or EventBus()
        self.memory = memory
        self.audit = audit or builtin_tools.audit.AuditLog()
        self.policies = list(policies)
        self.tools = dict(tools or {})
        self.skills = list(skills)
        self.version = version
        self.started = time.monotonic()
        limit = adapter.capabilities().max_concurrent_tasks
        self._slots = threading.BoundedSemaphore(max(1, limit))
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active: dict[str, float] = {}
        self._handled = self._failed = self._denied = 0

    @classmethod
    def from_config(
        cls, config: RuntimeConfig, adapter: BaseAdapter, events: EventBus, version: str = ""
    ) -> Coordinator:
        """Open the memory store and audit log in `data_dir`; load skills and plugins."""
        # Imported here: a runtime without skills or plugins never loads these modules.
        from plugins_registry import PluginContext, load_plugins
        from skill_loader import load_skills

        memory = builtin_tools.memory.MemoryStore(config.data_dir / "memory.sqlite3")
        # The module-level helpers (`builtin_tools.memory.store`, ...) share this store.
        builtin_tools.memory.configure(memory)
        audit = builtin_tools.audit.AuditLog(config.data_dir / "audit.jsonl")
        skills = load_skills(config.skills_dir) if config.skills_dir is not None else []
        tools: dict[str, Callable[..., Any]] = {
            s.name: s.tool for s in skills if s.tool is not None
        }
        context = PluginContext(config.workspace_id, events)
        for info in load_plugins(context, config.plugins):
            events.publish(
                "plugin.loaded" if info.error is None else "plugin.skipped", name=info.name
            )
        for name, tool in context.tools.items():
            tools.setdefault(name, tool)
        policies = [*build_policies(config.policies), *context.policies]
        return cls(
            config,
            adapter,
            events=events,
            memory=memory,
            audit=audit,
            policies=policies,
            tools=tools,
            skills=skills,
            version=version,
        )

    def close(self) -> None:
        """Close the memory store (and stop sharing it through the module-level helpers)."""
        if self.memory is None:
            return
        self.memory.close()
        if builtin_tools.memory._default_store is self.memory:  # noqa: SLF001 - same package
            builtin_tools.memory.configure(None)

    def agent_card(self, url: str) -> dict[str, Any]:
        """The A2A agent card peers read at `/.well-known/agent.json`."""
        caps = self.adapter.capabilities()
        return {
            "name": self.config.name,
            "description": self.adapter.description(),
            "url": url,
            "version": self.version,
            "protocolVersion": "0.2.5",
            "capabilities": {"streaming": caps.streaming, "pushNotifications": False},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [s.card() for s in self.skills],
            "metadata": {"workspace_id": self.config.workspace_id, "runtime": self.adapter.name()},
        }

    def stats(self) -> TaskStats:
        """Counts as of now."""
        with self._lock:
            return TaskStats(self._handled, self._failed, self._denied, tuple(self._active))

    def heartbeat_payload(self) -> dict[str, Any]:
        """What each heartbeat reports."""
        stats = self.stats()
        return {
            "status": "online",
            "active_tasks": len(stats.active),
            "handled_tasks": stats.handled,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
        }

    def handle_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Handle an A2A `message/send`: the agent's answer message, or TaskRejected."""
        request = _parse_request(params)
        try:
            enforce(self.policies, request)
        except PolicyDenied as exc:
            self._count_denied(request, exc.policy)
            raise TaskRejected(POLICY_DENIED, str(exc)) from exc
        if not self._slots.acquire(blocking=False):
            self._count_denied(request, "max_concurrent_tasks")
            raise TaskRejected(BUSY, "busy: too many tasks in progress; retry later")
        try:
            return self._run(request)
        finally:
            self._slots.release()

    def _run(self, request: TaskRequest) -> dict[str, Any]:
        start = time.monotonic()
        with self._lock:
            self._active[request.task_id] = start
        self.events.publish("task.received", task_id=request.task_id, sender=request.sender)
        context = TaskContext(memory=self.memory, audit=self.audit, tools=self.tools)
        outcome = "failed"
        try:
            result = self.adapter.handle_task(request, context)
            outcome = "completed"
        except AdapterError as exc:
            raise TaskRejected(TASK_FAILED, f"task failed: {exc}") from exc
        except Exception as exc:
            log.exception("adapter %s crashed on task %s", self.adapter.name(), request.task_id)
            raise TaskRejected(INTERNAL_ERROR, f"adapter error: {type(exc).__name__}") from exc
        finally:
            duration_ms = round((time.monotonic() - start) * 1000, 1)
            with self._idle:
                del self._active[request.task_id]
                if outcome == "completed":
                    self._handled += 1
                else:
                    self._failed += 1
                self._idle.notify_all()
            self.audit.record(
                "task",
                task_id=request.task_id,
                sender=request.sender,
                outcome=outcome,
                bytes_in=len(request.text.encode("utf-8")),
                duration_ms=duration_ms,
            )
            self.events.publish(f"task.{outcome}", task_id=request.task_id, duration_ms=duration_ms)
        parts: list[dict[str, Any]] = [{"kind": "text", "text": result.text}]
        if result.data is not None:
            parts.append({"kind": "data", "data": dict(result.data)})
        answer: dict[str, Any] = {
            "kind": "message",
            "role": "agent",
            "messageId": uuid.uuid4().hex,
            "parts": parts,
        }
        if request.context_id is not None:
            answer["contextId"] = request.context_id
        return answer

    def _count_denied(self, request: TaskRequest, policy: str) -> None:
        with self._lock:
            self._denied += 1
        self.audit.record(
            "task", task_id=request.task_id, sender=request.sender, outcome="denied", policy=policy
        )
        self.events.publish("task.denied", task_id=request.task_id, policy=policy)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for tasks in progress to finish; True if none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def delegate(self, peer: str, text: str) -> str:
        """Send ``text`` to ``peer`` (a URL or a workspace id) and return its answer text."""
        # Imported here: only workspaces that delegate talk to peers.
        from a2a_client import discover_peer, send_message
        from platform_auth import load_token

        info = discover_peer(
            peer,
            platform_url=self.config.platform_url,
            token=load_token(self.config.token_file),
            timeout=self.config.peer_timeout,
            retries=self.config.peer_retries,
        )
        self.events.publish("peer.delegated", peer=info.name)
        reply = send_message(
            info.url,
            text,
            sender=self.config.workspace_id,
            timeout=self.config.peer_timeout,
            retries=self.config.peer_retries,
        )
        return reply.text

    def snapshot(self, reason: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Everything worth knowing about this runtime at shutdown, JSON-ready."""
        stats = self.stats()
        return {
            "workspace_id": self.config.workspace_id,
            "runtime": self.adapter.name(),
            "version": self.version,
            "reason": reason,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "tasks": {
                "handled": stats.handled,
                "failed": stats.failed,
                "denied": stats.denied,
                "active": list(stats.active),
            },
            "adapter_state": dict(self.adapter.snapshot()),
            "memory": self.memory.stats() if self.memory is not None else {},
            "recent_events": [e.to_json() for e in self.events.recent()],
            **dict(extra or {}),
        }

    def write_snapshot(
        self, directory: Path, reason: str, extra: Mapping[str, Any] | None = None
    ) -> Path:
        """Write `pre-stop-<workspace_id>.json` into ``directory`` atomically; return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"pre-stop-{self.config.workspace_id}.json"
        text = json.dumps(self.snapshot(reason, extra), indent=2, sort_keys=True, default=str)
        # Temp file + rename: a reader never sees half a snapshot, even if we are killed mid-write.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pre-stop-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def _parse_request(params: Mapping[str, Any]) -> TaskRequest:
    message = params.get("message") if isinstance(params, dict) else None
    if not isinstance(message, dict):
        raise TaskRejected(INVALID_PARAMS, "params.message must be an object")
    if message.get("role") != "user":
        raise TaskRejected(INVALID_PARAMS, "params.message.role must be 'user'")
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise TaskRejected(INVALID_PARAMS, "params.message.messageId must be a non-empty string")
    parts = message.get("parts")
    if not isinstance(parts, list) or not parts:
        raise TaskRejected(INVALID_PARAMS, "params.message.parts must be a non-empty list")
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("kind") not in _PART_KINDS:
            raise TaskRejected(
                INVALID_PARAMS, f"params.message.parts[{index}].kind must be text, data or file"
            )
        if part["kind"] == "text" and not isinstance(part.get("text"), str):
            raise TaskRejected(
                INVALID_PARAMS, f"params.message.parts[{index}].text must be a string"
            )
    raw_metadata = message.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    sender = metadata.get("sender")
    context_id = message.get("contextId")
    return TaskRequest(
        task_id=uuid.uuid4().hex,
        text="\n".join(p["text"] for p in parts if p["kind"] == "text"),
        parts=tuple(parts),
        context_id=context_id if isinstance(context_id, str) else None,
        sender=sender if isinstance(sender, str) else None,
        metadata=metadata,
    )
