"""The few forge REST calls the cascade and the drift guard make, for GitHub and Gitea.

Both forges share the endpoint shapes used here (`/repos/{owner}/{repo}/pulls`,
`/dispatches`, `/contents/{path}`, `/orgs/{org}/repos`); they differ in the API root
(`https://api.github.com` vs `https://HOST/api/v1`), the auth header (`Bearer` vs `token`) and
owner case (Gitea's canonical names are lower case).  Answers are told apart: 401 (token
missing or invalid), 403 (token lacks a scope), 404 (wrong name or invisible), 5xx (retried
with backoff).  The token never appears in a message.
"""

from __future__ import annotations

import base64
import binascii
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self, cast

import httpx

from tooling.errors import ToolingError
from tooling.secrets import redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

__all__ = [
    "DISPATCH_EVENT",
    "ForgeClient",
    "ForgeError",
    "MergedPull",
    "OrgRepository",
    "PullRequest",
]

DISPATCH_EVENT = "runtime-published"
_SERVER_ERROR = 500
_UNAUTHORIZED = 401
_FORBIDDEN = 403
_NOT_FOUND = 404
_CONFLICT = 409
_UNPROCESSABLE = 422
_GITHUB_PAGE = 100
_GITEA_PAGE = 50
_MAX_PAGES = 200
_MESSAGE_LIMIT = 200


class ForgeError(ToolingError):
    """A forge call that failed; ``status`` is the HTTP status (None: no answer at all).

    Its own class because the drift guard degrades 401/403 on the org listing to a warning.
    """

    def __init__(self, message: str, *, status: int | None) -> None:
        """Keep the message and the status."""
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PullRequest:
    """A pull request the cascade opened (or found already open)."""

    number: int
    """Its number in the repository (0 when an open one exists but could not be looked up)."""
    url: str
    """Its web address (`html_url`), empty when unknown."""
    existed: bool
    """True when one was already open for the same head and base."""


@dataclass(frozen=True)
class OrgRepository:
    """One repository of an organisation, as the org listing returns it."""

    full_name: str
    """`owner/name`."""
    default_branch: str
    """Its default branch."""
    clone_url: str
    """Its https clone URL."""
    archived: bool
    """Whether it is archived (read-only)."""


@dataclass(frozen=True)
class MergedPull:
    """A pull request that merged a commit, with its labels (the on-merge release reads them)."""

    number: int
    """Its number in the repository."""
    url: str
    """Its web address (`html_url`), empty when unknown."""
    labels: tuple[str, ...]
    """The names of its labels."""
    base: str
    """The branch it was merged into."""
    merge_commit: str
    """The commit the merge made on the base branch (`merge_commit_sha`), empty when unknown."""


class ForgeClient:
    """A GitHub or Gitea REST API client for exactly the calls the pipeline makes."""

    def __init__(
        self,
        kind: str,
        api_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        """Talk to the ``kind`` (`github` or `gitea`) API rooted at ``api_url``."""
        if kind not in {"github", "gitea"}:
            raise ToolingError(f"forge kind {kind!r} must be 'github' or 'gitea'")
        if urllib.parse.urlsplit(api_url).scheme not in {"http", "https"}:
            raise ToolingError(f"forge API URL {api_url!r} must be http(s)")
        self.kind = kind
        self.api_url = api_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        headers = {"User-Agent": "molecule-runtime-cascade"}
        if kind == "github":
            headers["Accept"] = "application/vnd.github+json"
            headers["X-GitHub-Api-Version"] = "2022-11-28"
        else:
            headers["Accept"] = "application/json"
        if token:
            register_secret(token)
            # GitHub documents `Bearer`; Gitea documents `token` (it also takes Bearer only for
            # OAuth2 tokens, not for personal access tokens).
            scheme = "Bearer" if kind == "github" else "token"
            headers["Authorization"] = f"{scheme} {token}"
        self._client = httpx.Client(headers=headers, timeout=timeout, follow_redirects=True)

    def __enter__(self) -> Self:
        """Use as a context manager that closes the connection pool."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def current_user(self) -> str:
        """GET the token's own user (GitHub `/user`, Gitea `/api/v1/user`); return its login.

        403 is an answer too: the token authenticated but may not read users (an Actions
        `GITHUB_TOKEN`), so the login is then empty.  401 raises ForgeError.
        """
        response = self._request("GET", "/user", accept=(200, _FORBIDDEN))
        if response.status_code != httpx.codes.OK:
            return ""
        data = response.json()
        login = data.get("login") if isinstance(data, dict) else None
        return login if isinstance(login, str) else ""

    def probe_org_repos(self, org: str) -> None:
        """Ask for one repository of ``org``: raises ForgeError when the listing is refused."""
        name = org.lower() if self.kind == "gitea" else org
        path = f"/orgs/{urllib.parse.quote(name, safe='')}/repos"
        params = {"per_page" if self.kind == "github" else "limit": "1", "page": "1"}
        self._request("GET", path, params=params, accept=(200,))

    def repo_path(self, repository: str) -> str:
        """Return the API path of ``owner/name``, in the case the forge's canonical name uses."""
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ToolingError(f"repository {repository!r} must be 'owner/name'")
        if self.kind == "gitea":
            # Gitea's canonical owner and repository names are lower case (seed 002).
            owner, name = owner.lower(), name.lower()
        quote = urllib.parse.quote
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    def create_pull_request(
        self, repository: str, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        """Open a pull request from branch ``head`` into ``base``; an open one is reused."""
        path = f"{self.repo_path(repository)}/pulls"
        payload = {"title": title, "head": head, "base": base, "body": body}
        response = self._request(
            "POST", path, json=payload, accept=(201, _CONFLICT, _UNPROCESSABLE)
        )
        if response.status_code == httpx.codes.CREATED:
            data = _object(response, path)
            return _pull(data, existed=False)
        # GitHub answers 422 and Gitea 409 when one is already open for this head and base.
        if response.status_code == _UNPROCESSABLE and "already exists" not in response.text:
            raise ForgeError(self._describe("POST", path, response), status=_UNPROCESSABLE)
        return self._find_pull_request(repository, head=head, base=base)

    def _find_pull_request(self, repository: str, *, head: str, base: str) -> PullRequest:
        base_path = self.repo_path(repository)
        if self.kind == "github":
            owner = repository.partition("/")[0]
            path = f"{base_path}/pulls"
            params = {"state": "open", "head": f"{owner}:{head}", "base": base}
            found = self._request("GET", path, params=params, accept=(200,)).json()
            if isinstance(found, list) and found and isinstance(found[0], dict):
                first = cast("dict[str, object]", found[0])
                return _pull(first, existed=True)
            return PullRequest(0, "", existed=True)
        quote = urllib.parse.quote
        path = f"{base_path}/pulls/{quote(base, safe='')}/{quote(head, safe='')}"
        response = self._request("GET", path, accept=(200, _NOT_FOUND))
        if response.status_code != httpx.codes.OK:
            return PullRequest(0, "", existed=True)
        return _pull(_object(response, path), existed=True)

    def dispatch(
        self, repository: str, payload: Mapping[str, str], *, event_type: str = DISPATCH_EVENT
    ) -> None:
        """POST a repository dispatch of ``event_type`` with ``payload`` as client_payload."""
        path = f"{self.repo_path(repository)}/dispatches"
        body = {"event_type": event_type, "client_payload": dict(payload)}
        self._request("POST", path, json=body, accept=(204,))

    def read_file(self, repository: str, path: str, *, ref: str | None = None) -> bytes | None:
        """Return the bytes of ``path`` at ``ref`` (default: default branch), None if absent."""
        api_path = f"{self.repo_path(repository)}/contents/{urllib.parse.quote(path, safe='/')}"
        params = {"ref": ref} if ref else None
        response = self._request("GET", api_path, params=params, accept=(200, _NOT_FOUND))
        if response.status_code == _NOT_FOUND:
            return None
        data = response.json()
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory listing or a submodule: not a file
        content = data.get("content")
        if data.get("encoding") != "base64" or not isinstance(content, str):
            raise ForgeError(f"GET {self.api_url}{api_path}: no base64 content", status=200)
        try:
            return base64.b64decode(content.replace("\n", ""), validate=True)
        except binascii.Error as exc:
            raise ForgeError(
                f"GET {self.api_url}{api_path}: content is not valid base64", status=200
            ) from exc

    def list_org_repos(self, org: str) -> tuple[OrgRepository, ...]:
        """Every repository of organisation ``org`` the token can see, all pages."""
        name = org.lower() if self.kind == "gitea" else org
        path = f"/orgs/{urllib.parse.quote(name, safe='')}/repos"
        size = _GITHUB_PAGE if self.kind == "github" else _GITEA_PAGE
        size_key = "per_page" if self.kind == "github" else "limit"
        found: list[OrgRepository] = []
        for page in range(1, _MAX_PAGES + 1):
            params = {size_key: str(size), "page": str(page)}
            batch = self._request("GET", path, params=params, accept=(200,)).json()
            if not isinstance(batch, list):
                raise ForgeError(f"GET {self.api_url}{path}: expected a JSON list", status=200)
            found.extend(
                OrgRepository(
                    full_name=str(item["full_name"]),
                    default_branch=str(item.get("default_branch") or "main"),
                    clone_url=str(item.get("clone_url") or ""),
                    archived=bool(item.get("archived", False)),
                )
                for item in batch
                if isinstance(item, dict) and isinstance(item.get("full_name"), str)
            )
            if len(batch) < size:
                break
        return tuple(found)

    def merged_pulls_for_commit(self, repository: str, sha: str) -> tuple[MergedPull, ...]:
        """Return the merged pull requests that brought commit ``sha`` in.

        GitHub: "List pull requests associated with a commit"
        (``GET /repos/{owner}/{repo}/commits/{sha}/pulls``), filtered to merged ones.  Gitea:
        "Get the merged pull request of the commit" (``GET .../commits/{sha}/pull``), which
        knows a pull request by the commit its merge made (a merge or squash commit), and
        answers 404 for any other commit.
        """
        quoted = urllib.parse.quote(sha, safe="")
        if self.kind == "github":
            path = f"{self.repo_path(repository)}/commits/{quoted}/pulls"
            found = self._request("GET", path, params={"per_page": str(_GITHUB_PAGE)},
                                  accept=(200,)).json()
            items = found if isinstance(found, list) else []
        else:
            path = f"{self.repo_path(repository)}/commits/{quoted}/pull"
            response = self._request("GET", path, accept=(200, _NOT_FOUND))
            items = [response.json()] if response.status_code == httpx.codes.OK else []
        return tuple(
            _merged(cast("dict[str, object]", item))
            for item in items
            if isinstance(item, dict) and _is_merged(cast("dict[str, object]", item))
        )

    def issue_comments(self, repository: str, number: int) -> tuple[str, ...]:
        """Return the bodies of the comments on issue or pull request ``number`` (first page)."""
        path = f"{self.repo_path(repository)}/issues/{number}/comments"
        size_key = "per_page" if self.kind == "github" else "limit"
        found = self._request("GET", path, params={size_key: "100"}, accept=(200,)).json()
        return tuple(
            str(item["body"]) for item in (found if isinstance(found, list) else [])
            if isinstance(item, dict) and isinstance(item.get("body"), str)
        )

    def comment(self, repository: str, number: int, body: str) -> None:
        """Comment on issue or pull request ``number`` (both forges: the issue comments API)."""
        path = f"{self.repo_path(repository)}/issues/{number}/comments"
        self._request("POST", path, json={"body": body}, accept=(201,))

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str] | None = None,
        accept: tuple[int, ...],
    ) -> httpx.Response:
        url = f"{self.api_url}{path}"
        last = "no attempt made"
        last_status: int | None = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, url, json=json, params=params)
            except httpx.HTTPError as exc:
                last, last_status = redact(f"{type(exc).__name__}: {exc}"), None
                continue
            if response.status_code >= _SERVER_ERROR:
                last, last_status = f"HTTP {response.status_code}", response.status_code
                continue
            if response.status_code in accept:
                return response
            raise ForgeError(self._describe(method, path, response), status=response.status_code)
        raise ForgeError(
            f"{method} {url}: {last} after {self.attempts} attempts; "
            f"the {self.kind} server is failing, retry later",
            status=last_status,
        )

    def _describe(self, method: str, path: str, response: httpx.Response) -> str:
        status = response.status_code
        why = {
            _UNAUTHORIZED: "unauthorized: CASCADE_TOKEN is missing, expired or not valid here",
            _FORBIDDEN: "forbidden: the token lacks the permission or scope this call needs",
            _NOT_FOUND: (
                "not found: check the owner/name (and its case) and that the token can see it"
            ),
        }.get(status, "unexpected answer")
        detail = _server_message(response)
        tail = f" ({detail})" if detail else ""
        return redact(f"{method} {self.api_url}{path}: HTTP {status} {why}{tail}")


def _server_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return str(message)[:_MESSAGE_LIMIT] if message else ""


def _object(response: httpx.Response, path: str) -> dict[str, object]:
    data = response.json()
    if not isinstance(data, dict):
        raise ForgeError(f"{path}: expected a JSON object", status=response.status_code)
    return cast("dict[str, object]", data)


def _pull(data: Mapping[str, object], *, existed: bool) -> PullRequest:
    number = data.get("number")
    url = data.get("html_url")
    return PullRequest(
        number if isinstance(number, int) else 0, url if isinstance(url, str) else "", existed
    )


def _is_merged(data: Mapping[str, object]) -> bool:
    # GitHub sets `merged_at` on a merged pull request; Gitea also sets `merged: true`.
    return bool(data.get("merged_at")) or data.get("merged") is True


def _merged(data: Mapping[str, object]) -> MergedPull:
    number = data.get("number")
    url = data.get("html_url")
    labels = data.get("labels")
    base = data.get("base")
    ref = base.get("ref") if isinstance(base, dict) else None
    merge = data.get("merge_commit_sha")
    return MergedPull(
        number=number if isinstance(number, int) else 0,
        url=url if isinstance(url, str) else "",
        labels=tuple(
            str(label["name"]) for label in (labels if isinstance(labels, list) else [])
            if isinstance(label, dict) and isinstance(label.get("name"), str)
        ),
        base=ref if isinstance(ref, str) else "",
        merge_commit=merge if isinstance(merge, str) else "",
    )
