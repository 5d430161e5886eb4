"""The platform's registry API, as the runtime calls it.

Endpoints, relative to `platform_url` (all JSON, all authenticated with the bearer token when
one is configured):

- `POST /registry/register`   body `{workspace_id, url, runtime, version, agent_card}`,
  answers 2xx with a JSON object (`{"heartbeat_interval": N}` may shorten or lengthen beats).
- `POST /registry/heartbeat`  body `{workspace_id, status, active_tasks, handled_tasks,
  uptime_seconds}`, answers 2xx.
- `POST /registry/deregister` body `{workspace_id, reason}`, answers 2xx; best effort on stop.
- `GET  /registry/peers/{workspace_id}` answers `{"url": "http://..."}` for peer discovery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from platform_auth import auth_headers

if TYPE_CHECKING:
    from collections.abc import Mapping

    from platform_auth import PlatformToken

__all__ = ["PlatformClient", "PlatformError", "Registration"]

log = logging.getLogger(__name__)


class PlatformError(RuntimeError):
    """The platform refused a call or could not be reached; the message says which."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        """Say whether trying again could help (not for a refused token or unknown endpoint)."""
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Registration:
    """What the platform answered to a registration."""

    heartbeat_interval: float | None
    """The interval the platform asks for, when it asks for one."""
    raw: Mapping[str, Any]
    """The whole answer."""


class PlatformClient:
    """Calls the platform registry on behalf of one workspace."""

    def __init__(
        self, base_url: str, workspace_id: str, token: PlatformToken | None, timeout: float = 5.0
    ) -> None:
        """Prepare a connection pool to ``base_url``."""
        self.base_url = base_url.rstrip("/")
        self.workspace_id = workspace_id
        self._client = httpx.Client(
            base_url=self.base_url, headers=auth_headers(token), timeout=timeout
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"{method} {self.base_url}{path}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise PlatformError(
                f"{method} {self.base_url}{path}: {response.status_code}; check the platform token "
                "(MOLECULE_PLATFORM_TOKEN or token_file)",
                retryable=False,
            )
        if response.is_error:
            raise PlatformError(
                f"{method} {self.base_url}{path}: HTTP {response.status_code}",
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise PlatformError(f"{method} {self.base_url}{path}: answer is not JSON") from exc
        return data if isinstance(data, dict) else {"result": data}

    def register(
        self, url: str, runtime: str, version: str, agent_card: Mapping[str, Any]
    ) -> Registration:
        """Announce this workspace and where peers reach it."""
        data = self._call(
            "POST",
            "/registry/register",
            {
                "workspace_id": self.workspace_id,
                "url": url,
                "runtime": runtime,
                "version": version,
                "agent_card": dict(agent_card),
            },
        )
        interval = data.get("heartbeat_interval")
        if isinstance(interval, (int, float)) and not isinstance(interval, bool) and interval > 0:
            return Registration(float(interval), data)
        return Registration(None, data)

    def heartbeat(self, payload: Mapping[str, Any]) -> None:
        """Say this workspace is alive, with its current load."""
        self._call("POST", "/registry/heartbeat", {"workspace_id": self.workspace_id, **payload})

    def deregister(self, reason: str) -> None:
        """Say this workspace is going away."""
        self._call(
            "POST", "/registry/deregister", {"workspace_id": self.workspace_id, "reason": reason}
        )

    def peer_url(self, workspace_id: str) -> str:
        """The A2A URL of another workspace, as the platform knows it."""
        data = self._call("GET", f"/registry/peers/{workspace_id}")
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PlatformError(f"platform has no usable URL for workspace {workspace_id!r}")
        return url
