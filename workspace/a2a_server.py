"""The A2A endpoint: JSON-RPC 2.0 over HTTP, served from a thread pool by the stdlib server.

- `POST /` takes one JSON-RPC request; `message/send` hands the message to the coordinator.
- `GET /.well-known/agent.json` returns the agent card; `GET /healthz` returns `{"status": "ok"}`.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from coordinator import TaskRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from coordinator import Coordinator

__all__ = ["MAX_BODY_BYTES", "A2AServer"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "molecule-runtime"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send_json(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/.well-known/agent.json":
            self._send_json(HTTPStatus.OK, self.server.a2a.card())
        elif path == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such path {path}"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "JSON-RPC is served at /"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send_json(
                HTTPStatus.LENGTH_REQUIRED, _error(None, INVALID_REQUEST, "Content-Length required")
            )
            return
        if length > MAX_BODY_BYTES:
            self._send_json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _error(None, INVALID_REQUEST, "request too large"),
            )
            return
        answer = self.server.a2a.dispatch(self.rfile.read(length))
        if answer is None:  # a notification: JSON-RPC sends nothing back
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        else:
            self._send_json(HTTPStatus.OK, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    a2a: A2AServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class A2AServer:
    """Serves one coordinator over HTTP until stopped."""

    def __init__(
        self,
        coordinator: Coordinator,
        host: str = "127.0.0.1",
        port: int = 0,
        advertise_url: str | None = None,
    ) -> None:
        """Bind now (so the port is known), serve after `start`."""
        self.coordinator = coordinator
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, port), _Handler)
        self._httpd.a2a = self
        bound_host, bound_port = str(self._httpd.server_address[0]), self._httpd.server_address[1]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self.advertise_url = advertise_url or self.url
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "message/send": coordinator.handle_message,
        }

    def card(self) -> dict[str, Any]:
        """The agent card, advertising the public URL."""
        return self.coordinator.agent_card(self.advertise_url)

    def dispatch(self, body: bytes) -> dict[str, Any] | None:
        """Answer one raw JSON-RPC request body; None for a notification."""
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _error(None, PARSE_ERROR, "parse error: body is not JSON")
        if not isinstance(request, dict):
            return _error(
                None, INVALID_REQUEST, "batch requests are not supported; send one object"
            )
        request_id = request.get("id")
        method, params = request.get("method"), request.get("params", {})
        if (
            request.get("jsonrpc") != "2.0"
            or not isinstance(method, str)
            or not isinstance(params, dict)
        ):
            return _error(
                request_id,
                INVALID_REQUEST,
                "invalid request: need jsonrpc '2.0', method and object params",
            )
        handler = self._methods.get(method)
        if handler is None:
            answer = _error(request_id, METHOD_NOT_FOUND, f"method not found: {method}")
        else:
            try:
                answer = {"jsonrpc": "2.0", "id": request_id, "result": handler(params)}
            except TaskRejected as exc:
                answer = _error(request_id, exc.code, str(exc))
            except Exception:
                log.exception("%s failed", method)
                answer = _error(request_id, INTERNAL_ERROR, "internal error")
        return answer if "id" in request else None

    def start(self) -> str:
        """Serve on a background thread; return the listening URL."""
        # A short poll keeps stop() (and so shutdown after SIGTERM) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="a2a-server", daemon=True
        )
        self._thread.start()
        log.info("serving A2A on %s", self.url)
        return self.url

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
