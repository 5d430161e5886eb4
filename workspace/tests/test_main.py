from __future__ import annotations

import re
from importlib import metadata

import pytest

import main
import runtime_info


def test_version_prints_the_distribution_version_or_the_source_fallback(capsys):
    assert main.main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    if runtime_info.is_source_layout():
        assert out == "molecule-runtime 0+source (not installed; source layout)"
    else:
        assert out == f"molecule-runtime {metadata.version('molecule-ai-workspace-runtime')}"


def test_installed_layout_reads_the_version_from_metadata(monkeypatch, capsys):
    monkeypatch.setattr("runtime_info.is_source_layout", lambda: False)
    monkeypatch.setattr(
        "runtime_info.metadata.version",
        lambda name: "9.8.7" if name == runtime_info.DISTRIBUTION else "?",
    )
    assert main.main(["--version"]) == 0
    assert capsys.readouterr().out == "molecule-runtime 9.8.7\n"


def test_check_accepts_a_valid_config(write_config, capsys, tmp_path):
    path = write_config(f"workspace_id: ws-ok\nruntime: echo\nsnapshot_dir: {tmp_path / 'snaps'}\n")
    assert main.main(["--config", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config ok: workspace ws-ok, runtime echo, platform none (standalone)")
    assert "adapter echo" in out


def test_check_reads_the_config_path_from_the_environment(write_config, monkeypatch, capsys):
    monkeypatch.setenv(
        "MOLECULE_CONFIG", str(write_config("workspace_id: ws-env\nruntime: echo\n"))
    )
    assert main.main(["--check"]) == 0
    assert "workspace ws-env" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("runtime: echo\n", {}, "error: workspace_id: required;"),
        ("workspace_id: w\nruntime: echo\nport: 1\n", {}, "error: port: unknown key;"),
        ("workspace_id: w\nruntime: nope\n", {}, "error: runtime: unknown adapter 'nope'"),
        (
            "workspace_id: w\nruntime: echo\ntoken_file: missing-token\n",
            {},
            "error: token_file: cannot read",
        ),
        (
            "workspace_id: w\nruntime: echo\n",
            {"MOLECULE_HEARTBEAT_INTERVAL": "-1"},
            "error: heartbeat_interval (from MOLECULE_HEARTBEAT_INTERVAL): must be greater than 0",
        ),
    ],
)
def test_check_rejects_a_bad_config_with_one_line_on_stderr(
    write_config, monkeypatch, capsys, text, env, expected
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main.main(["--config", str(write_config(text)), "--check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(expected)
    assert re.fullmatch(r"error: [^\n]+\n", captured.err)
