"""A fault-injecting HTTP proxy in front of the real package index, on 127.0.0.1.

Uploads (POSTs) can be answered 500/503 by the proxy, forwarded and then left unanswered,
cut mid-body or answered late; GETs always pass through.  It counts the uploads it received
and those the index actually got, so a test can prove a file was stored exactly once.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator


class FaultProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the index, injecting one fault per upload (POST) from ``faults``.

    ``500``/``503``: answered by the proxy, never forwarded.  ``drop``: forwarded (the index
    stores the file), then the connection is closed without an answer.  ``truncate``:
    forwarded, then the answer is cut mid-body.  ``hang``: forwarded, then the answer comes
    only after ``hang_seconds``.  ``twice``: forwarded two times, the second answer returned
    (another run's identical upload landed first).  ``failures`` answers 500 to that many
    uploads first (-1: forever).  ``seen_posts`` counts uploads received, ``forwarded_posts``
    those the index got.
    """

    upstream: str = ""
    url: str = ""  # where uploads go: this proxy's own address
    failures: int = 0
    faults: ClassVar[list[str]] = []
    hang_seconds: float = 3.0
    seen_posts: int = 0
    forwarded_posts: int = 0

    def _fault(self) -> str:
        cls = type(self)
        if cls.failures != 0:
            cls.failures -= 1
            return "500"
        return cls.faults.pop(0) if cls.faults else "pass"

    def _answer_error(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        fault = "pass"
        if self.command == "POST":
            type(self).seen_posts += 1
            fault = self._fault()
            if fault in {"500", "503"}:
                self._answer_error(int(fault))
                return
            type(self).forwarded_posts += 1
        target = urllib.parse.urlsplit(self.upstream)
        assert target.hostname is not None  # the fixture's own http://127.0.0.1:port URL
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        conn.request(self.command, self.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        if fault == "twice":  # someone else's identical upload lands first
            type(self).forwarded_posts += 1
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        conn.close()
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "hang":
            time.sleep(type(self).hang_seconds)
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data) + (64 if fault == "truncate" else 0)))
        self.end_headers()
        self.wfile.write(data)
        if fault == "truncate":
            self.close_connection = True

    do_GET = do_POST = _forward  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[type[FaultProxy]]:
    """Run a proxy to ``upstream`` (the index's base URL) for the duration; yield its class."""

    class Proxy(FaultProxy):
        pass

    Proxy.upstream = upstream
    Proxy.faults = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    Proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Proxy
    finally:
        server.shutdown()
        server.server_close()
