from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_config


def test_minimal_file_gets_documented_defaults(write_config, tmp_path):
    cfg = load_config(write_config("workspace_id: ws-1\nruntime: echo\n"), env={})
    assert cfg.workspace_id == "ws-1"
    assert cfg.name == "ws-1"
    assert cfg.runtime == "echo"
    assert cfg.platform_url is None
    assert (cfg.listen.host, cfg.listen.port) == ("127.0.0.1", 0)
    assert cfg.heartbeat_interval == 30.0
    assert cfg.data_dir == Path.home() / ".local/state/molecule-runtime/ws-1"
    assert cfg.snapshot_dir == cfg.data_dir / "snapshots"


def test_environment_overrides_the_file(write_config, tmp_path):
    path = write_config(
        "workspace_id: from-file\nplatform_url: http://file.example\nlisten: {port: 1}\n"
    )
    env = {
        "WORKSPACE_ID": "from-env",
        "PLATFORM_URL": "http://env.example:8080/",
        "MOLECULE_LISTEN_PORT": "8123",
        "MOLECULE_SNAPSHOT_DIR": str(tmp_path / "snaps"),
        "MOLECULE_HEARTBEAT_INTERVAL": "0.5",
    }
    cfg = load_config(path, env=env)
    assert cfg.workspace_id == "from-env"
    assert cfg.platform_url == "http://env.example:8080"
    assert cfg.listen.port == 8123
    assert cfg.snapshot_dir == tmp_path / "snaps"
    assert cfg.heartbeat_interval == 0.5


def test_config_path_comes_from_molecule_config_env(write_config):
    path = write_config("workspace_id: ws-env-path\n")
    assert load_config(env={"MOLECULE_CONFIG": str(path)}).source == path


def test_relative_paths_in_the_file_are_relative_to_the_file(write_config, tmp_path):
    cfg = load_config(
        write_config("workspace_id: w\ndata_dir: state\nskills_dir: skills\n"), env={}
    )
    assert cfg.data_dir == tmp_path / "state"
    assert cfg.skills_dir == tmp_path / "skills"


def test_environment_alone_is_enough_without_a_file(tmp_path):
    cfg = load_config(env={"WORKSPACE_ID": "ws-env", "MOLECULE_RUNTIME": "echo"})
    assert (cfg.workspace_id, cfg.runtime, cfg.source) == ("ws-env", "echo", None)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            "runtime: echo\n",
            {},
            "workspace_id: required; set it in the config file or the WORKSPACE_ID environment variable",
        ),
        (
            "workspace_id: w\nlisten_port: 80\n",
            {},
            "listen_port: unknown key; remove it or use one of:",
        ),
        (
            "workspace_id: w\nlisten: {port: 70000}\n",
            {},
            "listen.port: must be at least 0 and at most 65535, got 70000",
        ),
        ("workspace_id: w\nlisten: {hots: x}\n", {}, "listen.hots: unknown key"),
        (
            "workspace_id: w\n",
            {"MOLECULE_LISTEN_PORT": "http"},
            "listen.port (from MOLECULE_LISTEN_PORT): must be an integer, got 'http'",
        ),
        (
            "workspace_id: w\nheartbeat_interval: 0\n",
            {},
            "heartbeat_interval: must be greater than 0, got 0",
        ),
        (
            "workspace_id: w\nheartbeat_interval: true\n",
            {},
            "heartbeat_interval: must be a finite number, got True",
        ),
        (
            "workspace_id: w\nplatform_url: ftp://x\n",
            {},
            "platform_url: must be an http(s) URL, got 'ftp://x'",
        ),
        (
            "workspace_id: w\n",
            {"PLATFORM_URL": "nope"},
            "platform_url (from PLATFORM_URL): must be an http(s) URL",
        ),
        ("workspace_id: [a]\n", {}, "workspace_id: must be a string, got ['a']"),
        (
            "workspace_id: w\n",
            {"MOLECULE_HEARTBEAT_INTERVAL": "nan"},
            "heartbeat_interval (from MOLECULE_HEARTBEAT_INTERVAL): must be a finite number",
        ),
        ("workspace_id: a/b\n", {}, "workspace_id: must not contain spaces or '/'"),
        (
            "workspace_id: w\nlog_level: loud\n",
            {},
            "log_level: must be one of DEBUG, INFO, WARNING, ERROR",
        ),
        ("workspace_id: w\nadapter: [1]\n", {}, "adapter: must be a mapping, got list"),
        ("workspace_id: w\nplugins: other\n", {}, "plugins: must be a list of plugin names"),
        (
            "workspace_id: w\npolicies: {rate_limit: {burst: 2}}\n",
            {},
            "policies.rate_limit.per_second: required",
        ),
        (
            "workspace_id: w\npolicies: {max_message_bytes: 1.5}\n",
            {},
            "policies.max_message_bytes: must be an integer",
        ),
        (
            "workspace_id: w\npolicies: {allowed_senders: ws-a}\n",
            {},
            "policies.allowed_senders: must be a list",
        ),
        ("- just\n- a list\n", {}, "must hold a mapping of keys, not list"),
        ("workspace_id: w\n  bad: indent\n", {}, ":2:"),
    ],
)
def test_invalid_configuration_names_the_field_in_one_line(write_config, text, env, message):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(text), env=env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"^config: .*nope\.yaml does not exist"):
        load_config(tmp_path / "nope.yaml", env={})


def test_policies_section_is_parsed(write_config):
    cfg = load_config(
        write_config(
            "workspace_id: w\npolicies:\n  max_message_bytes: 10\n  allowed_senders: [ws-a]\n"
            "  rate_limit: {per_second: 2.5, burst: 3}\n"
        ),
        env={},
    )
    assert cfg.policies.max_message_bytes == 10
    assert cfg.policies.allowed_senders == ("ws-a",)
    assert (cfg.policies.rate_per_second, cfg.policies.rate_burst) == (2.5, 3)
