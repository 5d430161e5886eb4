from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import pytest

import builtin_tools.memory
from adapters.base import AdapterConfig, AdapterError, BaseAdapter, RuntimeCapabilities, TaskResult
from adapters.echo import EchoAdapter
from builtin_tools.audit import read_audit
from config import load_config
from coordinator import Coordinator, TaskRejected
from events import EventBus

if TYPE_CHECKING:
    from pathlib import Path


def _message(text="ping", sender=None):
    message = {"role": "user", "messageId": "m-1", "parts": [{"kind": "text", "text": text}]}
    if sender:
        message["metadata"] = {"sender": sender}
    return {"message": message}


@pytest.fixture
def make_coordinator(tmp_path: Path, write_config):
    made = []

    def make(yaml_extra="", adapter_cls=EchoAdapter, env=None):
        path = write_config(f"workspace_id: ws-c\nruntime: echo\ndata_dir: data\n{yaml_extra}")
        config = load_config(path, env=env or {})
        adapter = adapter_cls(
            AdapterConfig(config.workspace_id, "echo", config.adapter, config.data_dir)
        )
        coordinator = Coordinator.from_config(config, adapter, EventBus(), version="1.2.3")
        made.append(coordinator)
        return coordinator

    yield make
    for coordinator in made:
        coordinator.close()


class MemoryAdapter(BaseAdapter):
    """Remembers every message in the workspace memory and answers with the count."""

    def capabilities(self):
        return RuntimeCapabilities(memory=True, max_concurrent_tasks=1)

    def handle_task(self, request, context):
        context.memory.store(request.task_id, request.text, namespace="inbox")
        if request.text == "fail":
            raise AdapterError("asked to fail")
        if request.text == "crash":
            raise ZeroDivisionError
        return TaskResult(
            text=str(context.memory.stats()["inbox"]), data={"tools": sorted(context.tools)}
        )


def test_message_runs_through_the_adapter_and_is_audited(make_coordinator):
    coordinator = make_coordinator()
    seen = []
    coordinator.events.subscribe("task.completed", seen.append)
    answer = coordinator.handle_message(_message("ping", sender="ws-a"))
    assert answer["parts"] == [{"kind": "text", "text": "ping"}]
    assert coordinator.stats().handled == 1
    assert len(seen) == 1
    [record] = read_audit(coordinator.config.data_dir / "audit.jsonl")
    assert (record["outcome"], record["sender"], record["bytes_in"]) == ("completed", "ws-a", 4)
    assert "ping" not in json.dumps(record)


def test_adapter_gets_the_memory_store_and_it_is_the_module_default(make_coordinator):
    coordinator = make_coordinator(adapter_cls=MemoryAdapter)
    answer = coordinator.handle_message(_message("remember me"))
    assert answer["parts"][0] == {"kind": "text", "text": "1"}
    assert answer["parts"][1] == {"kind": "data", "data": {"tools": []}}
    assert builtin_tools.memory.search("remember", namespace="inbox")[0].value == "remember me"


def test_adapter_errors_become_json_rpc_errors_and_count_as_failed(make_coordinator):
    coordinator = make_coordinator(adapter_cls=MemoryAdapter)
    with pytest.raises(TaskRejected, match="task failed: asked to fail") as info:
        coordinator.handle_message(_message("fail"))
    assert info.value.code == -32000
    with pytest.raises(TaskRejected, match="adapter error: ZeroDivisionError") as info:
        coordinator.handle_message(_message("crash"))
    assert info.value.code == -32603
    assert coordinator.stats().failed == 2


def test_policies_from_the_config_refuse_tasks(make_coordinator):
    coordinator = make_coordinator(
        "policies:\n  max_message_bytes: 3\n  allowed_senders: [ws-friend]\n"
    )
    with pytest.raises(
        TaskRejected, match="max_message_bytes: message is 4 bytes, the limit is 3"
    ) as info:
        coordinator.handle_message(_message("ping", sender="ws-friend"))
    assert info.value.code == -32010
    with pytest.raises(TaskRejected, match="allowed_senders: sender ws-stranger is not allowed"):
        coordinator.handle_message(_message("hi", sender="ws-stranger"))
    assert (
        coordinator.handle_message(_message("hi", sender="ws-friend"))["parts"][0]["text"] == "hi"
    )
    assert coordinator.stats().denied == 2


def test_tasks_beyond_the_adapters_concurrency_are_turned_away(make_coordinator):
    entered, release = threading.Event(), threading.Event()

    class SlowAdapter(MemoryAdapter):
        def handle_task(self, request, context):
            entered.set()
            release.wait(5)
            return TaskResult(text="done")

    coordinator = make_coordinator(adapter_cls=SlowAdapter)
    worker = threading.Thread(target=coordinator.handle_message, args=(_message("first"),))
    worker.start()
    assert entered.wait(5)
    with pytest.raises(TaskRejected, match="busy") as info:
        coordinator.handle_message(_message("second"))
    assert info.value.code == -32011
    assert len(coordinator.stats().active) == 1
    assert coordinator.wait_idle(0.05) is False
    release.set()
    worker.join()
    assert coordinator.wait_idle(1) is True


def test_snapshot_is_written_atomically_with_the_runtime_state(make_coordinator, tmp_path):
    coordinator = make_coordinator()
    coordinator.handle_message(_message("ping"))
    path = coordinator.write_snapshot(tmp_path / "snaps", "SIGTERM", {"url": "http://x"})
    assert path == tmp_path / "snaps" / "pre-stop-ws-c.json"
    snapshot = json.loads(path.read_text())
    assert snapshot["workspace_id"] == "ws-c"
    assert snapshot["reason"] == "SIGTERM"
    assert snapshot["tasks"]["handled"] == 1
    assert snapshot["adapter_state"] == {"handled": 1}
    assert snapshot["url"] == "http://x"
    assert [e["kind"] for e in snapshot["recent_events"]][-1] == "task.completed"
    assert [p.name for p in (tmp_path / "snaps").iterdir()] == ["pre-stop-ws-c.json"]


def test_agent_card_describes_the_workspace(make_coordinator):
    card = make_coordinator("name: Echo One\n").agent_card("http://127.0.0.1:1")
    assert (card["name"], card["url"], card["version"]) == (
        "Echo One",
        "http://127.0.0.1:1",
        "1.2.3",
    )
    assert card["metadata"]["workspace_id"] == "ws-c"


def test_delegate_sends_work_to_a_peer_by_workspace_id(make_coordinator, echo_agent, platform):
    platform.peers["ws-peer"] = echo_agent.url
    coordinator = make_coordinator(f"platform_url: {platform.url}\n")
    assert coordinator.delegate("ws-peer", "over to you") == "over to you"
    assert coordinator.events.recent("peer.")[0].data == {"peer": "ws-peer"}


def test_event_handler_failure_does_not_break_publishing(caplog):
    bus = EventBus()
    got = []
    bus.subscribe("x", lambda e: 1 / 0)
    bus.subscribe("*", got.append)
    bus.publish("x", n=1)
    assert [e.data for e in got] == [{"n": 1}]
    assert "event handler" in caplog.text
