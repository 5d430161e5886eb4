"""The runtime configuration: a YAML file, overridden by the environment, validated up front.

Every problem is a `ConfigError` whose message is one line, `<field>: <what to do>`. Nothing
here reads the environment at import time: `load_config` takes the environment it should use.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "CONFIG_ENV",
    "ConfigError",
    "ListenConfig",
    "PolicyConfig",
    "RuntimeConfig",
    "load_config",
]

CONFIG_ENV = "MOLECULE_CONFIG"

# Environment variables that override a top-level key (or a dotted nested one).
_ENV_OVERRIDES: dict[str, str] = {
    "workspace_id": "WORKSPACE_ID",
    "platform_url": "PLATFORM_URL",
    "runtime": "MOLECULE_RUNTIME",
    "snapshot_dir": "MOLECULE_SNAPSHOT_DIR",
    "data_dir": "MOLECULE_DATA_DIR",
    "heartbeat_interval": "MOLECULE_HEARTBEAT_INTERVAL",
    "listen.host": "MOLECULE_LISTEN_HOST",
    "listen.port": "MOLECULE_LISTEN_PORT",
    "advertise_url": "MOLECULE_ADVERTISE_URL",
    "token_file": "MOLECULE_PLATFORM_TOKEN_FILE",
    "log_level": "MOLECULE_LOG_LEVEL",
}

_TOP_KEYS = frozenset(
    {
        "workspace_id",
        "name",
        "runtime",
        "platform_url",
        "listen",
        "advertise_url",
        "snapshot_dir",
        "data_dir",
        "heartbeat_interval",
        "token_file",
        "log_level",
        "adapter",
        "policies",
        "skills_dir",
        "plugins",
        "peer_timeout",
        "peer_retries",
    }
)
_LISTEN_KEYS = frozenset({"host", "port"})
_POLICY_KEYS = frozenset({"max_message_bytes", "allowed_senders", "rate_limit"})
_RATE_KEYS = frozenset({"per_second", "burst"})
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """The configuration is unusable; `str()` is `<field>: <what to do>`."""

    def __init__(self, field_name: str, message: str) -> None:
        """Name the field and say what to do about it."""
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ListenConfig:
    """Where the A2A server listens."""

    host: str = "127.0.0.1"
    """Interface to bind; 127.0.0.1 keeps the runtime local."""
    port: int = 0
    """TCP port; 0 lets the OS pick a free one (printed when ready)."""


@dataclass(frozen=True)
class PolicyConfig:
    """Limits applied to every incoming task before the adapter sees it."""

    max_message_bytes: int = 1_000_000
    """Largest accepted message text, in UTF-8 bytes."""
    allowed_senders: tuple[str, ...] | None = None
    """Workspace ids allowed to send tasks; None allows everyone."""
    rate_per_second: float | None = None
    """Sustained tasks per second; None disables rate limiting."""
    rate_burst: int = 10
    """Tasks accepted in a burst above the sustained rate."""


@dataclass(frozen=True)
class RuntimeConfig:
    """The validated runtime configuration."""

    workspace_id: str
    """The workspace this runtime serves (`workspace_id`, env WORKSPACE_ID)."""
    runtime: str | None
    """The adapter name (`runtime`, env MOLECULE_RUNTIME); ADAPTER_MODULE may replace it."""
    data_dir: Path
    """Where memory and audit files live (`data_dir`, env MOLECULE_DATA_DIR)."""
    snapshot_dir: Path
    """Where the pre-stop snapshot goes (`snapshot_dir`, env MOLECULE_SNAPSHOT_DIR)."""
    name: str = ""
    """Display name in the agent card; defaults to the workspace id."""
    platform_url: str | None = None
    """The platform's base URL; None runs standalone (no registration, no heartbeat)."""
    listen: ListenConfig = field(default_factory=ListenConfig)
    """Where the A2A server listens."""
    advertise_url: str | None = None
    """The URL peers should use, when it differs from the listening address."""
    heartbeat_interval: float = 30.0
    """Seconds between heartbeats."""
    token_file: Path | None = None
    """A file holding the platform token (env MOLECULE_PLATFORM_TOKEN wins over it)."""
    log_level: str = "INFO"
    """Logging threshold for stderr."""
    adapter: Mapping[str, Any] = field(default_factory=dict)
    """Adapter settings, handed to the adapter unchanged."""
    policies: PolicyConfig = field(default_factory=PolicyConfig)
    """Limits on incoming tasks."""
    skills_dir: Path | None = None
    """A directory of skills to load; None loads none."""
    plugins: tuple[str, ...] | None = None
    """Plugin names to enable; None enables every installed plugin."""
    peer_timeout: float = 10.0
    """Seconds to wait for a peer's answer."""
    peer_retries: int = 2
    """Extra attempts on a peer's connection failure or 5xx answer."""
    source: Path | None = None
    """The configuration file read, if any."""

    def describe(self) -> str:
        """One line for `--check`: what would run, and where."""
        platform = self.platform_url or "none (standalone)"
        where = f"{self.listen.host}:{self.listen.port or 'any'}"
        return (
            f"workspace {self.workspace_id}, runtime {self.runtime or '(ADAPTER_MODULE)'}, "
            f"platform {platform}, listen {where}, snapshots in {self.snapshot_dir}"
        )


def load_config(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> RuntimeConfig:
    """Read ``path`` (or `MOLECULE_CONFIG`), apply the environment, validate everything."""
    environ = dict(os.environ if env is None else env)
    if path is None and environ.get(CONFIG_ENV):
        path = environ[CONFIG_ENV]
    source = Path(path) if path is not None else None
    raw = _read_yaml(source) if source is not None else {}
    base = source.resolve().parent if source is not None else Path.cwd()
    return _validate(_apply_env(raw, environ), environ, base, source)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            "config", f"{path} does not exist; pass an existing file to --config"
        ) from exc
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError("config", f"{where}: {problem}; fix the YAML syntax") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "config", f"{path} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data


def _apply_env(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = dict(raw)
    listen = data.get("listen")
    for key, var in _ENV_OVERRIDES.items():
        value = env.get(var, "").strip()
        if not value:
            continue
        if key.startswith("listen."):
            listen = dict(listen) if isinstance(listen, dict) else {}
            listen[key.split(".", 1)[1]] = _EnvValue(value, var)
            data["listen"] = listen
        else:
            data[key] = _EnvValue(value, var)
    return data


class _EnvValue(str):
    """A string that came from an environment variable; errors name the variable too."""

    var: str

    def __new__(cls, value: str, var: str) -> _EnvValue:
        obj = super().__new__(cls, value)
        obj.var = var
        return obj


def _label(name: str, value: object) -> str:
    return f"{name} (from {value.var})" if isinstance(value, _EnvValue) else name


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise ConfigError(f"{prefix}{key}", f"unknown key; remove it or use one of: {allowed}")


def _mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, got {type(value).__name__}")
    return value


def _text(
    data: Mapping[str, Any], key: str, *, required: bool = False, name: str | None = None
) -> str | None:
    field_name = name or key
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            var = _ENV_OVERRIDES.get(field_name)
            hint = f" or the {var} environment variable" if var else ""
            raise ConfigError(field_name, f"required; set it in the config file{hint}")
        return None
    if not isinstance(value, str):
        raise ConfigError(field_name, f"must be a string, got {value!r}")
    return value.strip()


def _number(
    data: Mapping[str, Any],
    key: str,
    default: float,
    *,
    name: str | None = None,
    integer: bool = False,
    minimum: float = 0,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> Any:
    field_name = _label(name or key, data.get(key))
    value = data.get(key, default)
    convert: Callable[[Any], float] = int if integer else float
    # YAML `true` is an int to Python and 1.5 would silently truncate: neither is a number here.
    wrong_type = isinstance(value, bool) or (integer and isinstance(value, float))
    try:
        number = None if wrong_type else convert(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number):
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(field_name, f"must be {kind}, got {value!r}")
    too_low = number <= minimum if exclusive_minimum else number < minimum
    if too_low or (maximum is not None and number > maximum):
        bound = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
        if maximum is not None:
            bound += f" and at most {maximum:g}"
        raise ConfigError(field_name, f"must be {bound}, got {value!r}")
    return number


def _url(data: Mapping[str, Any], key: str) -> str | None:
    value = _text(data, key)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(_label(key, data.get(key)), f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _path(data: Mapping[str, Any], key: str, base: Path) -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be a path string, got {value!r}")
    path = Path(value).expanduser()
    # Relative paths in a file are relative to that file; from the environment, to the cwd.
    return path if path.is_absolute() or isinstance(value, _EnvValue) else base / path


def _default_data_dir(env: Mapping[str, str], workspace_id: str) -> Path:
    state = env.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(state) / "molecule-runtime" / workspace_id


def _policies(data: Mapping[str, Any]) -> PolicyConfig:
    raw = _mapping(data, "policies")
    _reject_unknown(raw, _POLICY_KEYS, "policies.")
    senders = raw.get("allowed_senders")
    if senders is not None and (
        not isinstance(senders, list) or not all(isinstance(s, str) and s for s in senders)
    ):
        raise ConfigError("policies.allowed_senders", "must be a list of workspace ids")
    rate = raw.get("rate_limit")
    per_second: float | None = None
    burst = 10
    if rate is not None:
        if not isinstance(rate, dict):
            raise ConfigError("policies.rate_limit", "must be a mapping with per_second and burst")
        _reject_unknown(rate, _RATE_KEYS, "policies.rate_limit.")
        if "per_second" not in rate:
            raise ConfigError("policies.rate_limit.per_second", "required when rate_limit is set")
        per_second = _number(
            rate, "per_second", 0, name="policies.rate_limit.per_second", exclusive_minimum=True
        )
        burst = _number(
            rate, "burst", 10, name="policies.rate_limit.burst", integer=True, minimum=1
        )
    return PolicyConfig(
        max_message_bytes=_number(
            raw,
            "max_message_bytes",
            1_000_000,
            name="policies.max_message_bytes",
            integer=True,
            minimum=1,
        ),
        allowed_senders=tuple(senders) if senders is not None else None,
        rate_per_second=per_second,
        rate_burst=burst,
    )


def _validate(
    data: dict[str, Any], env: Mapping[str, str], base: Path, source: Path | None
) -> RuntimeConfig:
    _reject_unknown(data, _TOP_KEYS, "")
    workspace_id = _text(data, "workspace_id", required=True) or ""
    if any(ch.isspace() or ch == "/" for ch in workspace_id):
        raise ConfigError(
            _label("workspace_id", data["workspace_id"]), "must not contain spaces or '/'"
        )
    listen_raw = _mapping(data, "listen")
    _reject_unknown(listen_raw, _LISTEN_KEYS, "listen.")
    listen = ListenConfig(
        host=_text(listen_raw, "host", name="listen.host") or "127.0.0.1",
        port=_number(listen_raw, "port", 0, name="listen.port", integer=True, maximum=65535),
    )
    log_level = (_text(data, "log_level") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(
            _label("log_level", data["log_level"]), f"must be one of {', '.join(_LOG_LEVELS)}"
        )
    plugins = data.get("plugins")
    if plugins is not None and (
        not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins)
    ):
        raise ConfigError("plugins", "must be a list of plugin names (omit it to enable all)")
    data_dir = _path(data, "data_dir", base) or _default_data_dir(env, workspace_id)
    return RuntimeConfig(
        workspace_id=workspace_id,
        name=_text(data, "name") or workspace_id,
        runtime=_text(data, "runtime"),
        platform_url=_url(data, "platform_url"),
        listen=listen,
        advertise_url=_url(data, "advertise_url"),
        data_dir=data_dir,
        snapshot_dir=_path(data, "snapshot_dir", base) or data_dir / "snapshots",
        heartbeat_interval=_number(data, "heartbeat_interval", 30.0, exclusive_minimum=True),
        token_file=_path(data, "token_file", base),
        log_level=log_level,
        adapter=_mapping(data, "adapter"),
        policies=_policies(data),
        skills_dir=_path(data, "skills_dir", base),
        plugins=tuple(plugins) if plugins is not None else None,
        peer_timeout=_number(data, "peer_timeout", 10.0, exclusive_minimum=True),
        peer_retries=_number(data, "peer_retries", 2, integer=True, maximum=10),
        source=source,
    )
