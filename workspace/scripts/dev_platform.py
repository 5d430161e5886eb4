"""Dev script (never shipped): a stand-in for the platform registry, printing what it receives.

    cd workspace && python scripts/dev_platform.py --port 8080
    PLATFORM_URL=http://127.0.0.1:8080 python main.py --config example.yaml

It answers the endpoints the runtime calls (see docs/runtime.md): register, heartbeat,
deregister, and peer lookup for every workspace that registered with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_peers: dict[str, str] = {}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        del format, args  # the body dump below says more

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        authed = "yes" if self.headers.get("Authorization") else "no"
        print(f"{self.path} (auth: {authed}) {json.dumps(body)}", flush=True)
        if self.path == "/registry/register":
            _peers[body["workspace_id"]] = body["url"]
        if self.path in ("/registry/register", "/registry/heartbeat", "/registry/deregister"):
            self._answer(200, {"ok": True})
        else:
            self._answer(404, {"error": "unknown endpoint"})

    def do_GET(self) -> None:
        workspace = self.path.removeprefix("/registry/peers/")
        if workspace in _peers:
            self._answer(200, {"url": _peers[workspace]})
        else:
            self._answer(404, {"error": f"unknown workspace {workspace}"})


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    with ThreadingHTTPServer((args.host, args.port), _Handler) as server:
        print(f"platform stand-in on http://{args.host}:{server.server_address[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
