"""Talk to peer agents over A2A: JSON-RPC 2.0 over HTTP.

`discover_peer` finds a peer (by URL, or by workspace id through the platform) and reads its
agent card; `send_message` sends it a `message/send` and returns the answer.

Retries: a request that surely never reached the peer (connection refused, connect timeout)
or that the peer turned away (HTTP 502, 503, 504) is retried with exponential backoff. A read
timeout is not retried for `message/send`, since the peer may already be working on it.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

    from platform_auth import PlatformToken

__all__ = [
    "AGENT_CARD_PATH",
    "A2AError",
    "A2AReply",
    "A2ATimeout",
    "PeerInfo",
    "call",
    "discover_peer",
    "send_message",
]

AGENT_CARD_PATH = "/.well-known/agent.json"
_RETRY_STATUS = frozenset({502, 503, 504})
_BACKOFF_START = 0.2
_BACKOFF_MAX = 2.0
_ids = itertools.count(1)

log = logging.getLogger(__name__)


class A2AError(RuntimeError):
    """A peer call failed; `code` is the JSON-RPC error code when the peer sent one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Keep the JSON-RPC error code alongside the message."""
        super().__init__(message)
        self.code = code


class A2ATimeout(A2AError):
    """The peer did not answer in time."""


@dataclass(frozen=True)
class PeerInfo:
    """A peer agent and what its card says about it."""

    url: str
    """Where to send JSON-RPC requests."""
    name: str
    """The card's name."""
    description: str = ""
    """The card's description."""
    skills: tuple[str, ...] = ()
    """The ids of the skills it advertises."""
    card: Mapping[str, Any] = field(default_factory=dict)
    """The whole agent card."""


@dataclass(frozen=True)
class A2AReply:
    """A peer's answer to `message/send`."""

    text: str
    """The answer's text parts joined by newlines."""
    message: Mapping[str, Any]
    """The answer message as received."""


def _backoff(attempt: int) -> float:
    return min(_BACKOFF_MAX, _BACKOFF_START * 2.0**attempt)


def _request(
    client: httpx.Client, method: str, url: str, *, retries: int, idempotent: bool, **kwargs: Any
) -> httpx.Response:
    for attempt in itertools.count():
        retry = attempt < retries
        try:
            response = client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not retry:
                raise A2AError(f"{url}: cannot connect: {exc}") from exc
            reason = type(exc).__name__
        except httpx.TimeoutException as exc:
            if not (retry and idempotent):
                raise A2ATimeout(f"{url}: no answer within the timeout") from exc
            reason = type(exc).__name__
        except httpx.HTTPError as exc:
            raise A2AError(f"{url}: {type(exc).__name__}: {exc}") from exc
        else:
            if response.status_code not in _RETRY_STATUS or not retry:
                return response
            reason = f"HTTP {response.status_code}"
        delay = _backoff(attempt)
        log.info("%s %s: %s; retrying in %.1fs", method, url, reason, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def call(
    url: str,
    method: str,
    params: Mapping[str, Any],
    *,
    timeout: float = 10.0,
    retries: int = 2,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Call JSON-RPC ``method`` on the peer at ``url`` and return its `result`."""
    request_id = next(_ids)
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params)}
    with httpx.Client(timeout=timeout, headers=dict(headers or {})) as client:
        response = _request(client, "POST", url, retries=retries, idempotent=False, json=body)
    try:
        data = response.json()
    except ValueError:
        raise A2AError(f"{url}: HTTP {response.status_code}, answer is not JSON") from None
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        raise A2AError(f"{url}: HTTP {response.status_code}, answer is not JSON-RPC 2.0")
    error = data.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        raise A2AError(
            f"{url}: {method}: {error.get('message', 'error')}",
            code if isinstance(code, int) else None,
        )
    if data.get("id") != request_id:
        raise A2AError(
            f"{url}: answer id {data.get('id')!r} does not match request id {request_id}"
        )
    if "result" not in data:
        raise A2AError(f"{url}: answer has neither result nor error")
    return data["result"]


def send_message(
    url: str,
    text: str,
    *,
    sender: str | None = None,
    context_id: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
) -> A2AReply:
    """Send ``text`` to the peer at ``url`` as a user message and return its answer."""
    message: dict[str, Any] = {
        "role": "user",
        "messageId": uuid.uuid4().hex,
        "parts": [{"kind": "text", "text": text}],
    }
    if context_id is not None:
        message["contextId"] = context_id
    if sender is not None:
        message["metadata"] = {"sender": sender}
    result = call(url, "message/send", {"message": message}, timeout=timeout, retries=retries)
    if not isinstance(result, dict) or not isinstance(result.get("parts"), list):
        raise A2AError(f"{url}: message/send result is not a message")
    texts = [
        p.get("text", "")
        for p in result["parts"]
        if isinstance(p, dict) and p.get("kind") == "text"
    ]
    return A2AReply(text="\n".join(texts), message=result)


def discover_peer(
    target: str,
    *,
    platform_url: str | None = None,
    token: PlatformToken | None = None,
    timeout: float = 5.0,
    retries: int = 2,
) -> PeerInfo:
    """The peer at URL ``target``, or the workspace with id ``target`` through the platform."""
    if target.startswith(("http://", "https://")):
        url = target.rstrip("/")
    elif platform_url is None:
        raise A2AError(f"peer {target!r}: not a URL and no platform_url to look it up")
    else:
        # Only workspaces that look peers up by id need the platform client.
        from platform_client import PlatformClient, PlatformError

        client = PlatformClient(platform_url, "", token, timeout=timeout)
        try:
            url = client.peer_url(target).rstrip("/")
        except PlatformError as exc:
            raise A2AError(f"peer {target!r}: {exc}") from exc
        finally:
            client.close()
    with httpx.Client(timeout=timeout) as http:
        response = _request(http, "GET", url + AGENT_CARD_PATH, retries=retries, idempotent=True)
    if response.is_error:
        raise A2AError(f"{url}: agent card: HTTP {response.status_code}")
    try:
        card = response.json()
    except ValueError:
        raise A2AError(f"{url}: agent card is not JSON") from None
    if not isinstance(card, dict) or not isinstance(card.get("name"), str):
        raise A2AError(f"{url}: agent card has no name")
    skills = tuple(
        s["id"]
        for s in card.get("skills", [])
        if isinstance(s, dict) and isinstance(s.get("id"), str)
    )
    return PeerInfo(
        url=str(card.get("url") or url).rstrip("/"),
        name=card["name"],
        description=str(card.get("description", "")),
        skills=skills,
        card=card,
    )
