"""Policies: checks every incoming task passes before the adapter sees it.

A policy is anything with `name` and `check(request)`; `check` raises `PolicyDenied` to refuse.
The runtime builds its list from the `policies:` configuration with `build_policies`, and
plugins may add their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterable

    from adapters.base import TaskRequest
    from config import PolicyConfig

__all__ = [
    "AllowedSenders",
    "MaxMessageBytes",
    "Policy",
    "PolicyDenied",
    "build_policies",
    "enforce",
]


class PolicyDenied(Exception):
    """A policy refused a task; the message is safe to return to the sender."""

    def __init__(self, policy: str, reason: str) -> None:
        """Name the policy and say why."""
        super().__init__(f"{policy}: {reason}")
        self.policy = policy
        self.reason = reason


@runtime_checkable
class Policy(Protocol):
    """A check on incoming tasks."""

    name: str

    def check(self, request: TaskRequest) -> None:
        """Return to accept ``request``; raise PolicyDenied to refuse it."""


class MaxMessageBytes:
    """Refuses messages whose text is larger than a limit."""

    name = "max_message_bytes"

    def __init__(self, limit: int) -> None:
        """Refuse text above ``limit`` UTF-8 bytes."""
        self.limit = limit

    def check(self, request: TaskRequest) -> None:
        """Measure the text."""
        size = len(request.text.encode("utf-8"))
        if size > self.limit:
            raise PolicyDenied(self.name, f"message is {size} bytes, the limit is {self.limit}")


class AllowedSenders:
    """Accepts tasks only from listed workspaces."""

    name = "allowed_senders"

    def __init__(self, senders: Iterable[str]) -> None:
        """Allow exactly ``senders``."""
        self.senders = frozenset(senders)

    def check(self, request: TaskRequest) -> None:
        """Look at the sender the message names in its metadata."""
        if request.sender not in self.senders:
            raise PolicyDenied(
                self.name, f"sender {request.sender or '(anonymous)'!s} is not allowed"
            )


def build_policies(config: PolicyConfig) -> list[Policy]:
    """The policies the configuration asks for, cheapest first."""
    policies: list[Policy] = [MaxMessageBytes(config.max_message_bytes)]
    if config.allowed_senders is not None:
        policies.append(AllowedSenders(config.allowed_senders))
    if config.rate_per_second is not None:
        # Imported here: only workspaces that configure a rate limit pay for it.
        from policies.rate_limit import RateLimit

        policies.append(RateLimit(config.rate_per_second, config.rate_burst))
    return policies


def enforce(policies: Iterable[Policy], request: TaskRequest) -> None:
    """Run every policy on ``request``; the first refusal propagates."""
    for policy in policies:
        policy.check(request)
