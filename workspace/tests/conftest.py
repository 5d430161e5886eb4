"""Shared fixtures: an isolated environment, a platform stand-in and an in-process echo agent.

The platform stand-in serves on 127.0.0.1 the registry endpoints the runtime calls
(documented in docs/runtime.md and platform_client.py):

    POST /registry/register     -> {"heartbeat_interval": <register_interval>} or {}
    POST /registry/heartbeat    -> {}
    POST /registry/deregister   -> {}
    GET  /registry/peers/<id>   -> {"url": peers[id]} or 404
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

import builtin_tools.memory
from a2a_server import A2AServer
from adapters.echo import EchoAdapter
from adapters.base import AdapterConfig
from config import load_config
from coordinator import Coordinator
from events import EventBus

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Every variable the runtime reads; tests start with none of them set.
RUNTIME_ENV = (
    "WORKSPACE_ID",
    "PLATFORM_URL",
    "ADAPTER_MODULE",
    "MOLECULE_CONFIG",
    "MOLECULE_RUNTIME",
    "MOLECULE_SNAPSHOT_DIR",
    "MOLECULE_DATA_DIR",
    "MOLECULE_HEARTBEAT_INTERVAL",
    "MOLECULE_LISTEN_HOST",
    "MOLECULE_LISTEN_PORT",
    "MOLECULE_ADVERTISE_URL",
    "MOLECULE_PLATFORM_TOKEN",
    "MOLECULE_PLATFORM_TOKEN_FILE",
    "MOLECULE_LOG_LEVEL",
    "MOLECULE_MEMORY_PATH",
)


@pytest.fixture(autouse=True)
def isolated_runtime_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No runtime variable leaks in from the caller; state goes under tmp_path."""
    for name in RUNTIME_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    yield
    builtin_tools.memory.configure(None)


@dataclass
class Call:
    """One request the platform stand-in received."""

    method: str
    path: str
    body: dict[str, Any]
    authorization: str | None


@dataclass
class PlatformStandIn:
    """The recorded traffic and the knobs of the stand-in."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)
    register_interval: float | None = None
    fail_status: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.received(path)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(
            f"platform saw {len(self.received(path))} {path} calls, wanted {count}"
        )


def _handler(state: PlatformStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: dict[str, Any]) -> int | None:
            with state.lock:
                state.calls.append(
                    Call(self.command, self.path, body, self.headers.get("Authorization"))
                )
                return state.fail_status.get(self.path)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            failure = self._record(body)
            if failure is not None:
                self._answer(failure, {"error": "scripted failure"})
            elif self.path == "/registry/register":
                interval = state.register_interval
                self._answer(200, {"heartbeat_interval": interval} if interval else {})
            elif self.path in ("/registry/heartbeat", "/registry/deregister"):
                self._answer(200, {})
            else:
                self._answer(404, {"error": "unknown endpoint"})

        def do_GET(self) -> None:
            self._record({})
            workspace = self.path.removeprefix("/registry/peers/")
            if self.path.startswith("/registry/peers/") and workspace in state.peers:
                self._answer(200, {"url": state.peers[workspace]})
            else:
                self._answer(404, {"error": "unknown"})

    return Handler


@pytest.fixture
def platform() -> Iterator[PlatformStandIn]:
    """A platform registry stand-in on 127.0.0.1, recording every call."""
    state = PlatformStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def write_config(tmp_path: Path) -> Any:
    """Write a YAML configuration into tmp_path and return its path."""

    def write(text: str, name: str = "runtime.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def echo_agent(tmp_path: Path) -> Iterator[A2AServer]:
    """An echo agent served in-process on 127.0.0.1, like a peer workspace."""
    config = load_config(
        env={"WORKSPACE_ID": "ws-peer", "MOLECULE_DATA_DIR": str(tmp_path / "peer")}
    )
    adapter = EchoAdapter(AdapterConfig("ws-peer", "echo"))
    coordinator = Coordinator.from_config(config, adapter, events=EventBus(), version="test")
    server = A2AServer(coordinator)
    server.start()
    yield server
    server.stop()
    coordinator.close()
