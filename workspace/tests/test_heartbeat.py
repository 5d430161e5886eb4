from __future__ import annotations

from unittest import mock

import pytest

from events import EventBus
from heartbeat import Heartbeat
from platform_auth import PlatformToken
from platform_client import PlatformClient, PlatformError


@pytest.fixture
def client(platform):
    client = PlatformClient(platform.url, "ws-hb", PlatformToken("tok-123", "test"))
    yield client
    client.close()


def test_heartbeat_reports_to_the_platform_until_stopped(platform, client):
    events = EventBus()
    beat = Heartbeat(
        client.heartbeat, lambda: {"status": "online", "active_tasks": 0}, 0.05, events
    )
    beat.start()
    calls = platform.wait_for("/registry/heartbeat", count=3)
    beat.stop()
    assert calls[0].body == {"workspace_id": "ws-hb", "status": "online", "active_tasks": 0}
    assert calls[0].authorization == "Bearer tok-123"
    status = beat.status()
    assert status.sent >= 3
    assert not status.stale
    assert events.recent("heartbeat.sent")
    stopped_at = len(platform.received("/registry/heartbeat"))
    platform.wait_for("/registry/heartbeat", count=stopped_at, timeout=0.2)
    assert len(platform.received("/registry/heartbeat")) == stopped_at


def test_failed_heartbeats_are_counted_and_published_not_raised(platform, client):
    platform.fail_status["/registry/heartbeat"] = 500
    events = EventBus()
    beat = Heartbeat(client.heartbeat, dict, 60, events)
    assert beat.beat() is False
    assert beat.status().failed == 1
    assert "HTTP 500" in events.recent("heartbeat.failed")[0].data["error"]


def test_heartbeat_goes_stale_after_three_missed_intervals():
    with mock.patch("heartbeat.time.monotonic", return_value=1000.0):
        beat = Heartbeat(lambda payload: None, dict, interval=10)
        assert beat.beat()
    with mock.patch("heartbeat.time.monotonic", return_value=1029.0):
        status = beat.status()
        assert (status.seconds_since_ok, status.stale) == (29.0, False)
    with mock.patch("heartbeat.time.monotonic", return_value=1031.0):
        assert beat.status().stale


def test_never_successful_heartbeat_is_stale_from_start():
    with mock.patch("heartbeat.time.monotonic", side_effect=[0.0, 45.0]):
        beat = Heartbeat(lambda payload: None, dict, interval=10)
        status = beat.status()
    assert status.seconds_since_ok is None
    assert status.stale


def test_registration_returns_the_platforms_interval_and_sends_the_card(platform, client):
    platform.register_interval = 7
    registration = client.register("http://127.0.0.1:1", "echo", "1.0.0", {"name": "n"})
    assert registration.heartbeat_interval == 7.0
    [call] = platform.received("/registry/register")
    assert call.body == {
        "workspace_id": "ws-hb",
        "url": "http://127.0.0.1:1",
        "runtime": "echo",
        "version": "1.0.0",
        "agent_card": {"name": "n"},
    }


def test_platform_rejecting_the_token_says_to_check_it_without_showing_it(platform, client):
    platform.fail_status["/registry/register"] = 401
    with pytest.raises(PlatformError, match="401; check the platform token") as info:
        client.register("http://x", "echo", "1", {})
    assert "tok-123" not in str(info.value)
