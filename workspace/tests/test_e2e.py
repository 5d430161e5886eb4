"""The runtime as users run it: a real process, a real platform stand-in, real signals.

The runtime is started as `python -m <main module>`, using the imported module's own name, so
this test runs unchanged against the source tree (`main`) and the installed wheel
(`molecule_runtime.main`).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

import main

READY = re.compile(r"^molecule-runtime: serving A2A on (http://127\.0\.0\.1:\d+)$")
TOKEN = "e2e-secret-token-value"


def _runtime_env():
    # The directory holding the top-level module or package `main` belongs to, so the child
    # imports the same code this test imported, in either layout.
    root = Path(main.__file__).resolve().parents[main.__name__.count(".")]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOLECULE_", "WORKSPACE_ID", "PLATFORM_URL", "ADAPTER_MODULE"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["MOLECULE_PLATFORM_TOKEN"] = TOKEN
    return env


def _start(config_path, cwd, stderr):
    return subprocess.Popen(
        [sys.executable, "-m", main.__name__, "--config", str(config_path)],
        cwd=cwd,
        env=_runtime_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _first_line(proc, timeout=20.0):
    lines = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).rstrip("\n")
    except queue.Empty:
        proc.kill()
        pytest.fail("runtime printed no ready line in time")


def test_runtime_registers_answers_a2a_beats_and_snapshots_on_sigterm(
    tmp_path, platform, write_config
):
    snapshots = tmp_path / "snapshots"
    config_path = write_config(
        f"workspace_id: ws-e2e\nruntime: echo\nplatform_url: {platform.url}\n"
        f"heartbeat_interval: 0.1\nsnapshot_dir: {snapshots}\ndata_dir: {tmp_path / 'data'}\n"
    )
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr, _start(config_path, tmp_path, stderr) as proc:
        try:
            line = _first_line(proc)
            ready = READY.match(line)
            assert ready, line
            url = ready.group(1)

            [registration] = platform.wait_for("/registry/register")
            assert registration.body["workspace_id"] == "ws-e2e"
            assert registration.body["url"] == url
            assert registration.body["agent_card"]["metadata"]["runtime"] == "echo"
            assert registration.authorization == f"Bearer {TOKEN}"

            request = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "message/send",
                "params": {
                    "message": {
                        "role": "user",
                        "messageId": "m-1",
                        "parts": [{"kind": "text", "text": "ping"}],
                    }
                },
            }
            answer = httpx.post(url + "/", json=request, timeout=10).json()
            assert answer["id"] == 1
            assert answer["result"]["kind"] == "message"
            assert answer["result"]["role"] == "agent"
            assert answer["result"]["parts"] == [{"kind": "text", "text": "ping"}]

            beats = platform.wait_for("/registry/heartbeat", count=2)
            assert beats[-1].body["workspace_id"] == "ws-e2e"

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    snapshot = json.loads((snapshots / "pre-stop-ws-e2e.json").read_text())
    assert snapshot["workspace_id"] == "ws-e2e"
    assert snapshot["reason"] == "SIGTERM"
    assert snapshot["tasks"]["handled"] == 1
    assert snapshot["heartbeat"]["sent"] >= 2
    assert platform.received("/registry/deregister")[0].body == {
        "workspace_id": "ws-e2e",
        "reason": "SIGTERM",
    }
    assert TOKEN not in stderr_path.read_text()


def test_runtime_exits_1_naming_platform_url_when_registration_is_refused(
    tmp_path, platform, write_config
):
    platform.fail_status["/registry/register"] = 403
    config_path = write_config(
        f"workspace_id: ws-refused\nruntime: echo\nplatform_url: {platform.url}\ndata_dir: {tmp_path / 'd'}\n"
    )
    result = _run_to_exit(config_path, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: platform_url: registration failed: POST ")
    assert "403; check the platform token" in last
    assert TOKEN not in result.stderr
    assert len(platform.received("/registry/register")) == 1


def _run_to_exit(config_path, cwd):
    return subprocess.run(
        [sys.executable, "-m", main.__name__, "--config", str(config_path)],
        cwd=cwd,
        env=_runtime_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_runtime_exits_1_naming_data_dir_when_it_is_unusable(tmp_path, write_config):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    result = _run_to_exit(
        write_config(f"workspace_id: ws-nodata\nruntime: echo\ndata_dir: {blocker}\n"), tmp_path
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: data_dir: cannot use {blocker}: ")


def test_runtime_exits_1_naming_listen_when_the_port_is_taken(tmp_path, write_config):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config_path = write_config(
            f"workspace_id: ws-port\nruntime: echo\nlisten: {{port: {port}}}\n"
            f"data_dir: {tmp_path / 'd'}\n"
        )
        result = _run_to_exit(config_path, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: listen: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.rstrip().endswith("pick another port")
