from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import httpx
import pytest

import a2a_client
from a2a_client import A2AError, A2ATimeout, discover_peer, send_message


def _rpc(url, body):
    return httpx.post(
        url, content=body if isinstance(body, bytes) else json.dumps(body).encode(), timeout=5
    ).json()


def _send(text="ping", **message):
    message = {
        "role": "user",
        "messageId": "m-1",
        "parts": [{"kind": "text", "text": text}],
        **message,
    }
    return {"jsonrpc": "2.0", "id": 7, "method": "message/send", "params": {"message": message}}


def test_message_send_returns_the_echo_adapters_answer(echo_agent):
    answer = _rpc(echo_agent.url + "/", _send("ping"))
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == 7
    result = answer["result"]
    assert (result["kind"], result["role"]) == ("message", "agent")
    assert result["parts"] == [{"kind": "text", "text": "ping"}]
    assert result["messageId"]


def test_context_id_is_carried_back(echo_agent):
    assert _rpc(echo_agent.url, _send(contextId="ctx-9"))["result"]["contextId"] == "ctx-9"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        ([_send()], -32600),
        ({"jsonrpc": "1.0", "id": 1, "method": "message/send"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "tasks/teleport", "params": {}}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {}}, -32602),
        (_send(role="agent"), -32602),
        (
            {**_send(), "params": {"message": {"role": "user", "messageId": "m", "parts": []}}},
            -32602,
        ),
    ],
)
def test_bad_requests_get_json_rpc_error_objects(echo_agent, body, code):
    answer = _rpc(echo_agent.url, body)
    assert answer["error"]["code"] == code
    assert "result" not in answer


def test_notification_gets_no_body(echo_agent):
    body = {k: v for k, v in _send().items() if k != "id"}
    response = httpx.post(echo_agent.url, json=body, timeout=5)
    assert response.status_code == 204
    assert response.content == b""


def test_agent_card_and_health_are_served(echo_agent):
    card = httpx.get(echo_agent.url + "/.well-known/agent.json", timeout=5).json()
    assert card["name"] == "ws-peer"
    assert card["url"] == echo_agent.url
    assert card["metadata"] == {"workspace_id": "ws-peer", "runtime": "echo"}
    assert httpx.get(echo_agent.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_client_discovers_a_peer_by_url_and_sends_it_a_message(echo_agent):
    peer = discover_peer(echo_agent.url)
    assert (peer.name, peer.url) == ("ws-peer", echo_agent.url)
    reply = send_message(peer.url, "hello peer", sender="ws-me")
    assert reply.text == "hello peer"
    assert reply.message["role"] == "agent"


def test_client_discovers_a_peer_by_workspace_id_through_the_platform(echo_agent, platform):
    platform.peers["ws-peer"] = echo_agent.url
    assert discover_peer("ws-peer", platform_url=platform.url).url == echo_agent.url
    with pytest.raises(A2AError, match="ws-unknown"):
        discover_peer("ws-unknown", platform_url=platform.url)
    with pytest.raises(A2AError, match="not a URL and no platform_url"):
        discover_peer("ws-peer")


def test_client_raises_the_peers_json_rpc_error_with_its_code(echo_agent):
    with pytest.raises(A2AError) as info:
        a2a_client.call(echo_agent.url, "tasks/teleport", {})
    assert info.value.code == -32601


class _Flaky:
    """A peer that answers 503 a few times, then a JSON-RPC result; or sleeps before answering."""

    def __init__(self, failures=0, delay=0.0):
        self.failures, self.delay, self.requests = failures, delay, 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                flaky.requests += 1
                # Not time.sleep: tests patch it (through a2a_client.time) to skip the backoff.
                threading.Event().wait(flaky.delay)
                if flaky.requests <= flaky.failures:
                    status, data = 503, b"{}"
                else:
                    result = {
                        "kind": "message",
                        "role": "agent",
                        "messageId": "x",
                        "parts": [{"kind": "text", "text": "ok"}],
                    }
                    status, data = (
                        200,
                        json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode(),
                    )
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


def test_client_retries_503_with_exponential_backoff():
    with _Flaky(failures=2) as peer, mock.patch("a2a_client.time.sleep") as sleep:
        assert send_message(peer.url, "x", retries=2).text == "ok"
    assert peer.requests == 3
    assert [c.args[0] for c in sleep.call_args_list] == [0.2, 0.4]


def test_client_gives_up_after_the_configured_retries():
    with (
        _Flaky(failures=5) as peer,
        mock.patch("a2a_client.time.sleep"),
        pytest.raises(A2AError, match="HTTP 503"),
    ):
        send_message(peer.url, "x", retries=1)
    assert peer.requests == 2


def test_client_retries_a_refused_connection_then_fails(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr("a2a_client._BACKOFF_START", 0.01)
    with pytest.raises(A2AError, match="cannot connect"):
        send_message(f"http://127.0.0.1:{port}", "x", retries=2)


def test_message_send_times_out_without_retrying():
    with _Flaky(delay=1.0) as peer, mock.patch("a2a_client.time.sleep") as sleep:
        started = time.monotonic()
        with pytest.raises(A2ATimeout):
            send_message(peer.url, "x", timeout=0.2, retries=3)
        assert time.monotonic() - started < 1.0
    assert peer.requests == 1
    sleep.assert_not_called()
