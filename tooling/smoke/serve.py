"""The smoke session's serve check: start the installed runtime, talk A2A to it, stop it.

The predecessor's wheel died on every start and its smoke never noticed: this runs
the console script from the smoke venv with the echo adapter, sends one ``message/send`` and
expects the echo, a clean exit on SIGTERM and the pre-stop snapshot.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import signal
import subprocess
import time
import urllib.request
from typing import TYPE_CHECKING

from tooling.smoke.checks import (
    CheckResult,
    clean_env,
    elapsed,
    failed_check,
    file_tail,
    venv_python,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["check_serve"]

_READY = re.compile(r"serving A2A on (?P<url>https?://\S+)")


def _read_ready(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    assert proc.stdout is not None  # noqa: S101 - Popen was given stdout=PIPE
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            buffer += chunk
            match = _READY.search(buffer.decode("utf-8", "replace"))
            if match:
                return match["url"]
    return None


def _rpc(url: str, text: str) -> dict[str, object]:
    body = json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "message/send",
        "params": {"message": {
            "role": "user", "messageId": "smoke-1", "parts": [{"kind": "text", "text": text}],
        }},
    }).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        answer: dict[str, object] = json.loads(response.read())
    return answer


def check_serve(
    venv: Path,
    script: str,
    cwd: Path,
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> CheckResult:
    """Start the installed runtime with the echo adapter, echo one A2A message, SIGTERM it."""
    start = time.perf_counter()
    workspace_id = f"smoke-{secrets.token_hex(3)}"
    snapshots = cwd / "snapshots"
    config = cwd / "smoke-runtime.yaml"
    config.write_text(
        f"workspace_id: {workspace_id}\nruntime: echo\n"
        f"listen:\n  host: 127.0.0.1\n  port: 0\nsnapshot_dir: {json.dumps(str(snapshots))}\n",
        encoding="utf-8",
    )
    stderr_path = cwd / "serve-stderr.log"
    argv = [os.fspath(venv_python(venv)), "-I", "-B", os.fspath(venv / "bin" / script),
            "--config", os.fspath(config)]
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=clean_env(env), stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        url = _read_ready(proc, timeout)
        if url is None:
            return failed_check("serve", f"no ready line: {file_tail(stderr_path)}", start)
        token = f"ping-{secrets.token_hex(4)}"
        answer = _rpc(url, token)
        result = answer.get("result")
        parts = result.get("parts") if isinstance(result, dict) else None
        echoed = parts[0].get("text") if isinstance(parts, list) and parts else None
        if echoed != token:
            return failed_check("serve", f"message/send answered {str(answer)[:200]}", start)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        snapshot = snapshots / f"pre-stop-{workspace_id}.json"
        if code != 0:
            tail = file_tail(stderr_path)
            return failed_check("serve", f"exit {code} after SIGTERM: {tail}", start)
        if not snapshot.is_file():
            return failed_check("serve", f"no snapshot {snapshot.name} after SIGTERM", start)
        json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        why = f"{type(exc).__name__}: {exc}; {file_tail(stderr_path)}"
        return failed_check("serve", why, start)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return CheckResult(
        "serve", ok=True, detail=f"echo over A2A at {url}; SIGTERM -> exit 0 + snapshot",
        seconds=elapsed(start),
    )


