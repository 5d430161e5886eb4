"""A local stand-in for the GitHub and Gitea REST APIs the pipeline calls, on 127.0.0.1.

It follows the documented API for exactly those calls: paths (GitHub at the root, Gitea under
`/api/v1`), methods, status codes (201 created, 204 dispatched, 401/403/404, 409 vs 422 for an
existing pull request, 5xx on request), JSON shapes, and the auth header each forge documents
(GitHub `Bearer`/`token`, Gitea `token`).  Gitea repository names are matched in lower case, as
Gitea's canonical names are.

  GitHub: https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request
          https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
          https://docs.github.com/en/rest/repos/contents#get-repository-content
          https://docs.github.com/en/rest/repos/repos#list-organization-repositories
          https://docs.github.com/en/rest/users/users#get-the-authenticated-user
          https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit
          https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
  Gitea:  https://docs.gitea.com/api (repoCreatePullRequest, repoGetPullRequestByBaseHead,
          repoGetContents, orgListRepos, userGetCurrent; dispatches as the GitHub-compatible
          shape; repoGetCommitPullRequest, issueGetComments, issueCreateComment)
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: object


@dataclass
class FakeRepo:
    """One repository on the fake forge."""

    full_name: str
    default_branch: str = "main"
    files: dict[str, bytes] = field(default_factory=dict)
    archived: bool = False


class FakeForge:
    """The server and its state; start with ``start()``, stop with ``stop()``."""

    def __init__(self, kind: str, token: str) -> None:
        assert kind in {"github", "gitea"}
        self.kind = kind
        self.token = token
        self.prefix = "" if kind == "github" else "/api/v1"
        self.repos: dict[str, FakeRepo] = {}
        self.orgs: dict[str, list[str]] = {}
        self.pulls: list[dict[str, object]] = []
        self.dispatches: list[dict[str, object]] = []
        # Merged pull requests (see ``add_merged_pull``) and the comments on each, by number.
        self.merged: list[dict[str, object]] = []
        self.comments: dict[int, list[str]] = {}
        self.comment_scope = True
        self.requests: list[Recorded] = []
        self.faults: list[tuple[str, str, list[int]]] = []
        self.org_scope = True
        self.login = "cascade-bot"
        # GitHub answers `GET /user` with 403 for an Actions GITHUB_TOKEN (an installation
        # token): authenticated, but not a user.
        self.user_forbidden = False
        self._server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    @property
    def api_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def key(self, full_name: str) -> str:
        # Both forges find a repository whatever its case; only Gitea's API paths must be
        # lower case (checked in the router).
        return full_name.lower()

    def add_repo(
        self,
        full_name: str,
        files: dict[str, bytes] | None = None,
        *,
        default_branch: str = "main",
        archived: bool = False,
    ) -> None:
        owner = full_name.split("/", maxsplit=1)[0]
        stored = full_name.lower() if self.kind == "gitea" else full_name
        self.repos[self.key(full_name)] = FakeRepo(
            stored, default_branch=default_branch, files=files or {}, archived=archived
        )
        self.orgs.setdefault(owner.lower(), []).append(self.key(full_name))

    def add_merged_pull(
        self,
        full_name: str,
        *,
        commits: list[str],
        merge_commit: str,
        labels: list[str] = [],  # noqa: B006 - never mutated
        base: str = "main",
    ) -> int:
        """Record a merged pull request of ``commits``, merged as ``merge_commit``; its number."""
        number = len(self.pulls) + len(self.merged) + 1
        web = "https://github.com" if self.kind == "github" else "https://gitea.example"
        stored = full_name.lower() if self.kind == "gitea" else full_name
        self.merged.append({
            "repo": stored, "number": number, "state": "closed",
            "title": f"pull {number}", "html_url": f"{web}/{stored}/pull/{number}",
            "labels": [{"id": i + 1, "name": n, "color": "ededed"} for i, n in enumerate(labels)],
            "base": {"ref": base}, "head": {"ref": f"topic-{number}"},
            "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": merge_commit,
            "commits": list(commits), **({"merged": True} if self.kind == "gitea" else {}),
        })
        return number

    def fail(self, method: str, path_prefix: str, statuses: list[int]) -> None:
        """Answer the next requests matching ``method`` and ``path_prefix`` with ``statuses``."""
        self.faults.append((method, self.prefix + path_prefix, list(statuses)))

    def start(self) -> FakeForge:
        forge = self

        class Handler(_Handler):
            pass

        Handler.forge = forge
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _ref(pull: dict[str, object], side: str) -> object:
    """The branch name under ``pull[side]["ref"]``, as the API returns a pull's head and base."""
    branch = pull[side]
    assert isinstance(branch, dict)
    return branch["ref"]


class _Handler(BaseHTTPRequestHandler):
    forge: FakeForge

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        del format, args

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _reply(
        self, status: int, payload: object = None, headers: dict[str, str] | None = None
    ) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        forge = self.forge
        allowed = {f"token {forge.token}"}
        if forge.kind == "github":
            allowed.add(f"Bearer {forge.token}")
        return header in allowed

    def _serve(self, method: str) -> None:  # noqa: C901, PLR0911, PLR0912, PLR0915 - a router
        forge = self.forge
        parts = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with forge.lock:
            forge.requests.append(
                Recorded(
                    method, parts.path, urllib.parse.parse_qs(parts.query), dict(self.headers), body
                )
            )
            for index, (f_method, f_path, statuses) in enumerate(forge.faults):
                if f_method == method and parts.path.startswith(f_path) and statuses:
                    status = statuses.pop(0)
                    if not statuses:
                        forge.faults.pop(index)
                    self._reply(status, {"message": f"injected {status}"})
                    return
        if not self._authorized():
            message = "Bad credentials" if forge.kind == "github" else "token is required"
            self._reply(401, {"message": message})
            return
        if not parts.path.startswith(forge.prefix + "/"):
            self._reply(404, {"message": "Not Found"})
            return
        segments = [urllib.parse.unquote(s) for s in parts.path[len(forge.prefix) :].split("/")[1:]]
        query = urllib.parse.parse_qs(parts.query)
        if segments == ["user"] and method == "GET":
            self._current_user()
            return
        if (
            segments[:1] == ["orgs"]
            and len(segments) == 3
            and segments[2] == "repos"
            and method == "GET"
        ):
            self._org_repos(segments[1], query)
            return
        if segments[:1] != ["repos"] or len(segments) < 4:
            self._reply(404, {"message": "Not Found"})
            return
        full = f"{segments[1]}/{segments[2]}"
        if forge.kind == "gitea" and full != full.lower():
            self._reply(404, {"message": "The target couldn't be found."})
            return
        repo = forge.repos.get(forge.key(full))
        if repo is None:
            self._reply(404, {"message": "Not Found"})
            return
        rest = segments[3:]
        if rest == ["pulls"] and method == "POST":
            self._create_pull(repo, body)
        elif rest == ["pulls"] and method == "GET" and forge.kind == "github":
            head = query.get("head", [""])[0]
            found = [
                p
                for p in forge.pulls
                if p["repo"] == repo.full_name
                and f"{full.split('/', maxsplit=1)[0]}:{_ref(p, 'head')}" == head
            ]
            self._reply(200, found)
        elif len(rest) == 3 and rest[0] == "pulls" and method == "GET" and forge.kind == "gitea":
            found = [
                p
                for p in forge.pulls
                if p["repo"] == repo.full_name
                and _ref(p, "base") == rest[1]
                and _ref(p, "head") == rest[2]
            ]
            self._reply(200, found[0]) if found else self._reply(404, {"message": "Not Found"})
        elif self._on_merge_route(repo, rest, method, body):
            return
        elif rest == ["dispatches"] and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("event_type"), str):
                self._reply(422, {"message": "Invalid request: event_type is required"})
                return
            forge.dispatches.append({"repo": repo.full_name, **body})
            self._reply(204)
        elif rest[:1] == ["contents"] and method == "GET":
            path = "/".join(rest[1:])
            data = repo.files.get(path)
            if data is None:
                self._reply(404, {"message": "Not Found"})
                return
            encoded = base64.encodebytes(data).decode()  # newline-wrapped, as GitHub sends it
            self._reply(
                200,
                {
                    "type": "file",
                    "encoding": "base64",
                    "content": encoded,
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "size": len(data),
                    "sha": "0" * 40,
                },
            )
        else:
            self._reply(404, {"message": "Not Found"})

    def _current_user(self) -> None:
        """GitHub `GET /user`, Gitea `GET /api/v1/user`: the token's own account."""
        forge = self.forge
        if forge.user_forbidden:
            self._reply(403, {"message": "Resource not accessible by integration"})
            return
        if forge.kind == "github":
            payload: dict[str, object] = {"login": forge.login, "id": 1, "type": "User"}
        else:
            payload = {"id": 1, "login": forge.login, "username": forge.login, "is_admin": False}
        self._reply(200, payload)
    def _on_merge_route(self, repo: FakeRepo, rest: list[str], method: str, body: object) -> bool:
        """Serve the calls the on-merge release makes; False when ``rest`` is none of them."""
        if len(rest) == 3 and rest[0] == "commits" and method == "GET":
            return self._commit_pulls(repo, rest[1], rest[2])
        if len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            self._comments(int(rest[1]) if rest[1].isdigit() else -1, method, body)
            return True
        return False

    def _commit_pulls(self, repo: FakeRepo, sha: str, tail: str) -> bool:
        forge = self.forge
        mine = [p for p in forge.merged if p["repo"] == repo.full_name]
        public = [{k: v for k, v in p.items() if k not in {"repo", "commits"}} for p in mine]
        if forge.kind == "github" and tail == "pulls":
            # Every pull request whose commits hold ``sha``, or whose merge made it.
            commits = [p["commits"] for p in mine]
            self._reply(200, [
                shown for p, shown, held in zip(mine, public, commits, strict=True)
                if (isinstance(held, list) and sha in held) or p["merge_commit_sha"] == sha
            ])
            return True
        if forge.kind == "gitea" and tail == "pull":
            # Gitea finds a pull request only by the commit its merge made.
            found = [s for p, s in zip(mine, public, strict=True) if p["merge_commit_sha"] == sha]
            if found:
                self._reply(200, found[0])
            else:
                self._reply(404, {"message": "The target couldn't be found."})
            return True
        return False

    def _comments(self, number: int, method: str, body: object) -> None:
        forge = self.forge
        if not any(p["number"] == number for p in forge.merged):
            self._reply(404, {"message": "Not Found"})
        elif method == "GET":
            bodies = forge.comments.get(number, [])
            self._reply(200, [{"id": i + 1, "body": b} for i, b in enumerate(bodies)])
        elif not forge.comment_scope:
            self._reply(403, {"message": "Resource not accessible by integration"})
        elif not isinstance(body, dict) or not isinstance(body.get("body"), str):
            self._reply(422, {"message": "Validation Failed"})
        else:
            forge.comments.setdefault(number, []).append(body["body"])
            self._reply(201, {"id": len(forge.comments[number]), "body": body["body"]})

    def _create_pull(self, repo: FakeRepo, body: object) -> None:
        forge = self.forge
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("title", "head", "base")
        ):
            self._reply(422, {"message": "Validation Failed"})
            return
        for pull in forge.pulls:
            if (
                pull["repo"] == repo.full_name
                and _ref(pull, "head") == body["head"]
                and _ref(pull, "base") == body["base"]
            ):
                if forge.kind == "github":
                    self._reply(
                        422,
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {
                                    "resource": "PullRequest",
                                    "code": "custom",
                                    "message": (
                                        "A pull request already exists for "
                                        f"{repo.full_name.split('/')[0]}:{body['head']}."
                                    ),
                                }
                            ],
                        },
                    )
                else:
                    self._reply(409, {"message": "pull request already exists for these targets"})
                return
        number = len(forge.pulls) + 1
        web = "https://github.com" if forge.kind == "github" else "https://gitea.example"
        pull = {
            "repo": repo.full_name,
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body", ""),
            "html_url": f"{web}/{repo.full_name}/pull/{number}",
            "head": {"ref": body["head"]},
            "base": {"ref": body["base"]},
        }
        forge.pulls.append(pull)
        self._reply(201, pull)

    def _org_repos(self, org: str, query: dict[str, list[str]]) -> None:
        forge = self.forge
        if not forge.org_scope:
            self._reply(
                403,
                {
                    "message": (
                        "token does not have at least one of required scope(s): [read:organization]"
                    )
                },
            )
            return
        names = forge.orgs.get(org.lower())
        if names is None:
            self._reply(404, {"message": "Not Found"})
            return
        size_key, cap = ("per_page", 100) if forge.kind == "github" else ("limit", 50)
        size = min(int(query.get(size_key, ["30"])[0]), cap)
        page = int(query.get("page", ["1"])[0])
        chunk = names[(page - 1) * size : page * size]
        items = []
        for name in chunk:
            repo = forge.repos[name]
            items.append(
                {
                    "name": repo.full_name.split("/")[1],
                    "full_name": repo.full_name,
                    "owner": {"login": repo.full_name.split("/")[0]},
                    "default_branch": repo.default_branch,
                    "archived": repo.archived,
                    "clone_url": f"https://forge.example/{repo.full_name}.git",
                }
            )
        self._reply(200, items)
