from __future__ import annotations

import sys
from unittest import mock

import pytest

from adapters.base import TaskRequest
from config import PolicyConfig
from policies import Policy, PolicyDenied, build_policies, enforce


def _request(text="hi", sender=None):
    return TaskRequest(task_id="t", text=text, sender=sender)


def test_rate_limit_allows_a_burst_then_refills_with_time():
    with mock.patch("policies.rate_limit.time.monotonic", return_value=100.0) as clock:
        from policies.rate_limit import RateLimit

        limit = RateLimit(per_second=2, burst=2)
        limit.check(_request())
        limit.check(_request())
        with pytest.raises(PolicyDenied, match=r"rate_limit: too many tasks; retry in 0\.5s"):
            limit.check(_request())
        clock.return_value = 100.5
        limit.check(_request())
        with pytest.raises(PolicyDenied):
            limit.check(_request())


def test_rate_limit_module_is_loaded_only_when_configured(monkeypatch):
    monkeypatch.delitem(sys.modules, "policies.rate_limit", raising=False)
    names = [p.name for p in build_policies(PolicyConfig())]
    assert names == ["max_message_bytes"]
    assert sys.modules.get("policies.rate_limit") is None
    policies = build_policies(
        PolicyConfig(allowed_senders=("a",), rate_per_second=1.0, rate_burst=1)
    )
    assert [p.name for p in policies] == ["max_message_bytes", "allowed_senders", "rate_limit"]
    assert sys.modules.get("policies.rate_limit") is not None
    assert all(isinstance(p, Policy) for p in policies)


def test_size_limit_counts_utf8_bytes():
    policies = build_policies(PolicyConfig(max_message_bytes=4))
    enforce(policies, _request("éé"))
    with pytest.raises(PolicyDenied, match="5 bytes"):
        enforce(policies, _request("ééa"))


def test_anonymous_sender_is_refused_when_senders_are_listed():
    policies = build_policies(PolicyConfig(allowed_senders=("ws-a",)))
    enforce(policies, _request(sender="ws-a"))
    with pytest.raises(PolicyDenied, match=r"sender \(anonymous\) is not allowed"):
        enforce(policies, _request())
