"""The runtime's entry point: `molecule-runtime` (console script) or `python main.py`.

    molecule-runtime --version
    molecule-runtime --config workspace.yaml --check
    molecule-runtime --config workspace.yaml

A run loads the configuration, picks the adapter, serves A2A, registers with the platform and
sends heartbeats; on SIGTERM (or Ctrl-C) it stops serving, writes the pre-stop snapshot and
exits 0. Errors print one line, `error: <field>: <what to do>`, and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from config import ConfigError, load_config
from runtime_info import runtime_version

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from a2a_server import A2AServer
    from config import RuntimeConfig
    from coordinator import Coordinator
    from heartbeat import Heartbeat
    from platform_auth import PlatformToken
    from platform_client import PlatformClient

__all__ = ["main", "main_sync", "run"]

log = logging.getLogger("molecule_runtime")

PROG = "molecule-runtime"
_REGISTER_ATTEMPTS = 3
_DRAIN_SECONDS = 5.0


class _Fatal(Exception):
    """A start-up failure with its one-line reason."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run a Molecule AI workspace agent.")
    parser.add_argument(
        "--config", metavar="FILE", help="YAML configuration (default: $MOLECULE_CONFIG)"
    )
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and do what they ask; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.version:
        print(f"{PROG} {runtime_version()}")
        return 0
    try:
        config = load_config(args.config)
        if args.check:
            print(f"config ok: {check(config)}")
            return 0
        return run(config)
    except (ConfigError, _Fatal) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main_sync() -> int:
    """The console script: run with `sys.argv` and return the exit code."""
    return main(sys.argv[1:])


def check(config: RuntimeConfig) -> str:
    """Validate what a run would need beyond the file itself; one line describing it."""
    # Imported here so `--version` stays fast and never depends on adapter code.
    from adapters import get_adapter
    from adapters.base import AdapterError
    from platform_auth import TokenError, load_token
    from skill_loader import SkillError, load_skills

    try:
        adapter = get_adapter(config.runtime)
        token = load_token(config.token_file)
        skills = load_skills(config.skills_dir) if config.skills_dir is not None else []
    except (AdapterError, TokenError, SkillError) as exc:
        raise _Fatal(str(exc)) from exc
    auth = "token set" if token is not None else "no token"
    return f"{config.describe()}, adapter {adapter.name()}, {len(skills)} skill(s), {auth}"


def run(config: RuntimeConfig) -> int:
    """Serve until SIGTERM or SIGINT, then snapshot and stop; returns the exit code."""
    _configure_logging(config.log_level)
    stop = threading.Event()
    reason = ["stopped"]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        reason[0] = signal.Signals(signum).name
        stop.set()

    # Before anything can take time: a SIGTERM during start-up must still end in a snapshot.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    token, coordinator = _assemble(config)
    server = _listen(config, coordinator)
    url = server.start()
    platform: PlatformClient | None = None
    heartbeat: Heartbeat | None = None
    try:
        if config.platform_url is not None:
            platform, heartbeat = _join_platform(
                config.platform_url, config, token, server.advertise_url, coordinator, stop
            )
    except _Fatal:
        server.stop()
        coordinator.adapter.teardown()
        coordinator.close()
        raise
    print(f"{PROG}: serving A2A on {url}", flush=True)
    coordinator.events.publish("runtime.started", url=url)
    while not stop.wait(1.0):
        pass
    return _shut_down(config, reason[0], server, coordinator, platform, heartbeat)


def _assemble(config: RuntimeConfig) -> tuple[PlatformToken | None, Coordinator]:
    """Read the token, load and set up the adapter, build the coordinator around it."""
    from adapters import get_adapter
    from adapters.base import AdapterConfig, AdapterError
    from builtin_tools.memory import MemoryStoreError
    from coordinator import Coordinator
    from events import EventBus
    from platform_auth import TokenError, install_redaction, load_token
    from skill_loader import SkillError

    try:
        token = load_token(config.token_file)
        install_redaction(token)
        adapter_cls = get_adapter(config.runtime)
    except (AdapterError, TokenError) as exc:
        raise _Fatal(str(exc)) from exc
    adapter = adapter_cls(
        AdapterConfig(config.workspace_id, adapter_cls.name(), config.adapter, config.data_dir)
    )
    adapter.setup()
    try:
        return token, Coordinator.from_config(config, adapter, EventBus(), runtime_version())
    except SkillError as exc:
        adapter.teardown()
        raise _Fatal(str(exc)) from exc
    except (OSError, MemoryStoreError) as exc:
        adapter.teardown()
        raise _Fatal(f"data_dir: cannot use {config.data_dir}: {exc}") from exc


def _listen(config: RuntimeConfig, coordinator: Coordinator) -> A2AServer:
    """Bind the A2A server (not serving yet)."""
    from a2a_server import A2AServer

    try:
        return A2AServer(coordinator, config.listen.host, config.listen.port, config.advertise_url)
    except OSError as exc:
        coordinator.adapter.teardown()
        coordinator.close()
        where = f"{config.listen.host}:{config.listen.port}"
        raise _Fatal(
            f"listen: cannot listen on {where}: {exc.strerror}; pick another port"
        ) from exc


def _shut_down(
    config: RuntimeConfig,
    reason: str,
    server: A2AServer,
    coordinator: Coordinator,
    platform: PlatformClient | None,
    heartbeat: Heartbeat | None,
) -> int:
    """Stop serving, let running tasks finish, write the snapshot, leave the platform."""
    coordinator.events.publish("runtime.stopping", reason=reason)
    server.stop()
    if heartbeat is not None:
        heartbeat.stop()
    if not coordinator.wait_idle(_DRAIN_SECONDS):
        log.warning("stopping with %d task(s) still running", len(coordinator.stats().active))
    extra: dict[str, object] = {"url": server.advertise_url}
    if heartbeat is not None:
        status = heartbeat.status()
        extra["heartbeat"] = {"sent": status.sent, "failed": status.failed}
    try:
        path = coordinator.write_snapshot(config.snapshot_dir, reason, extra)
    except OSError as exc:
        raise _Fatal(
            f"snapshot_dir: cannot write the snapshot in {config.snapshot_dir}: {exc}"
        ) from exc
    finally:
        _leave_platform(platform, reason)
        coordinator.adapter.teardown()
        coordinator.close()
    log.info("wrote %s; stopped (%s)", path, reason)
    return 0


def _join_platform(
    platform_url: str,
    config: RuntimeConfig,
    token: PlatformToken | None,
    url: str,
    coordinator: Coordinator,
    stop: threading.Event,
) -> tuple[PlatformClient, Heartbeat]:
    """Register (retrying a few times) and start the heartbeat; returns both handles."""
    from heartbeat import Heartbeat
    from platform_client import PlatformClient, PlatformError

    platform = PlatformClient(platform_url, config.workspace_id, token)
    card = coordinator.agent_card(url)
    for attempt in range(1, _REGISTER_ATTEMPTS + 1):
        try:
            registration = platform.register(
                url, coordinator.adapter.name(), coordinator.version, card
            )
            break
        except PlatformError as exc:
            if not exc.retryable or attempt == _REGISTER_ATTEMPTS or stop.is_set():
                platform.close()
                raise _Fatal(f"platform_url: registration failed: {exc}") from exc
            log.warning("registration attempt %d failed: %s", attempt, exc)
            stop.wait(0.5 * 2**attempt)
    interval = registration.heartbeat_interval or config.heartbeat_interval
    heartbeat = Heartbeat(
        platform.heartbeat, coordinator.heartbeat_payload, interval, coordinator.events
    )
    heartbeat.start()
    log.info("registered with %s; heartbeat every %gs", platform_url, interval)
    return platform, heartbeat


def _leave_platform(platform: PlatformClient | None, reason: str) -> None:
    if platform is None:
        return
    from platform_client import PlatformError

    try:
        platform.deregister(reason)
    except PlatformError as exc:
        log.warning("deregistration failed (the platform will time us out): %s", exc)
    finally:
        platform.close()


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; that is noise next to heartbeats.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


if __name__ == "__main__":
    sys.exit(main())
