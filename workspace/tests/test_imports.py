"""Every shipped module imports in a bare environment: nothing reads a variable at import time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import a2a_client
import a2a_server
import adapters
import adapters.base
import adapters.echo
import builtin_tools.audit
import builtin_tools.memory
import config
import coordinator
import events
import heartbeat
import main
import platform_auth
import platform_client
import plugins_registry
import policies
import policies.rate_limit
import runtime_info
import skill_loader
import skill_loader.loader

MODULES = [
    a2a_client,
    a2a_server,
    adapters,
    adapters.base,
    adapters.echo,
    builtin_tools.audit,
    builtin_tools.memory,
    config,
    coordinator,
    events,
    heartbeat,
    main,
    platform_auth,
    platform_client,
    plugins_registry,
    policies,
    policies.rate_limit,
    runtime_info,
    skill_loader,
    skill_loader.loader,
]


def test_every_module_imports_without_any_runtime_variable_set(tmp_path):
    root = Path(main.__file__).resolve().parents[main.__name__.count(".")]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root), "HOME": str(tmp_path)}
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code, *(m.__name__ for m in MODULES)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_version_and_check_do_not_load_the_network_stack(tmp_path):
    root = Path(main.__file__).resolve().parents[main.__name__.count(".")]
    code = (
        f"import sys, {main.__name__} as m\n"
        "m.main(['--version'])\n"
        "print(sorted(n for n in ('httpx', 'sqlite3') if n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
