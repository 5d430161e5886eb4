"""One authenticated request per forge host before any clone: a bad token fails the run at once.

Without it an expired token shows up as one failure per consumer (or as 404s that look like
missing repositories).  For every forge host the run will reach with `CASCADE_TOKEN` (its
consumers' http(s) remotes and forge APIs, and the forge `drift --org` lists) the documented
"current user" endpoint is asked once: GitHub `GET /user`, Gitea `GET /api/v1/user`.  A 401
stops the run with one line naming the host and the variable; a host that cannot be reached
is a warning (its consumers then fail on their own).  For `drift --org` the org listing is
probed too: a refusal there is the blind-spot warning, said before any work starts.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.cascade.forge import ForgeClient, ForgeError
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.cascade.consumers import Consumer

__all__ = ["ForgeHost", "Preflight", "forge_hosts", "preflight"]

_UNAUTHORIZED = 401
_SCOPE_STATUSES = frozenset({401, 403})
_TIMEOUT = 10.0


@dataclass(frozen=True)
class ForgeHost:
    """One forge API the run reaches with the token."""

    kind: str
    """`github` or `gitea`."""
    api_url: str
    """Its REST API root."""

    @property
    def host(self) -> str:
        """The host name (and port) to name in messages."""
        return urllib.parse.urlsplit(self.api_url).netloc


@dataclass(frozen=True)
class Preflight:
    """What the checks found, when none of them stops the run."""

    users: tuple[tuple[str, str], ...]
    """(host, login) per host checked; the login is empty when the forge would not say."""
    warnings: tuple[str, ...]
    """Problems that do not stop the run: an unreachable host, a refused org listing."""
    org_listable: bool
    """Whether the org listing answered (True when no org was asked for)."""


def forge_hosts(
    consumers: Sequence[Consumer], extra: Sequence[ForgeHost] = ()
) -> tuple[ForgeHost, ...]:
    """The distinct forge APIs the token is sent to for ``consumers`` (non-exempt) and ``extra``."""
    found: dict[str, ForgeHost] = {}
    for consumer in consumers:
        if consumer.exempt or not consumer.needs_token or consumer.api_url is None:
            continue
        found.setdefault(consumer.api_url, ForgeHost(consumer.forge, consumer.api_url))
    for host in extra:
        found.setdefault(host.api_url, host)
    return tuple(found.values())


def preflight(
    hosts: Sequence[ForgeHost],
    token: str,
    *,
    org: str | None = None,
    org_host: ForgeHost | None = None,
) -> Preflight:
    """Check ``token`` against every host; raise ToolingError on the first 401.

    The token is sent only in the Authorization header each forge documents and never
    appears in a message.
    """
    users: list[tuple[str, str]] = []
    warnings: list[str] = []
    for host in hosts:
        with ForgeClient(host.kind, host.api_url, token, timeout=_TIMEOUT, attempts=1) as client:
            try:
                users.append((host.host, client.current_user()))
            except ForgeError as exc:
                if exc.status == _UNAUTHORIZED:
                    raise ToolingError(
                        f"{host.host}: CASCADE_TOKEN was rejected (HTTP 401 on GET "
                        f"{host.api_url}/user); renew it or set CASCADE_TOKEN to a token valid "
                        "there; nothing was cloned"
                    ) from exc
                warnings.append(f"token preflight of {host.host} inconclusive: {exc.message}")
    listable = True
    if org and org_host is not None:
        with ForgeClient(org_host.kind, org_host.api_url, token, timeout=_TIMEOUT, attempts=1) as c:
            try:
                c.probe_org_repos(org)
            except ForgeError as exc:
                # Any other failure is left to the listing itself, which reports it as an error.
                if exc.status in _SCOPE_STATUSES:
                    listable = False
                    warnings.append(f"blind-spot check skipped: {exc.message}")
    return Preflight(tuple(users), tuple(warnings), listable)
