"""The forge client against a local server that answers as GitHub and Gitea document."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fake_forge import FakeForge

from tooling.cascade.forge import ForgeClient, ForgeError

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(params=["github", "gitea"])
def forge(request: pytest.FixtureRequest, sentinel: str) -> Iterator[FakeForge]:
    server = FakeForge(request.param, sentinel).start()
    server.add_repo("molecule-ai/template-a", {".runtime-version": b"0.2.0\n# junk\n"})
    yield server
    server.stop()


def client(forge: FakeForge, token: str, *, attempts: int = 4) -> ForgeClient:
    return ForgeClient(forge.kind, forge.api_url, token, attempts=attempts, backoff=0.01)


def test_auth_header_is_bearer_on_github_and_token_on_gitea(
    forge: FakeForge, sentinel: str
) -> None:
    with client(forge, sentinel) as api:
        api.dispatch("molecule-ai/template-a", {"runtime_version": "0.3.0"})
    header = forge.requests[-1].headers["Authorization"]
    assert header == (f"Bearer {sentinel}" if forge.kind == "github" else f"token {sentinel}")


def test_dispatch_posts_runtime_published_with_the_version(forge: FakeForge, sentinel: str) -> None:
    with client(forge, sentinel) as api:
        api.dispatch("molecule-ai/template-a", {"runtime_version": "0.3.0"})
    sent = forge.requests[-1]
    assert sent.method == "POST"
    assert sent.path == f"{forge.prefix}/repos/molecule-ai/template-a/dispatches"
    assert sent.body == {
        "event_type": "runtime-published",
        "client_payload": {"runtime_version": "0.3.0"},
    }
    assert forge.dispatches[0]["client_payload"] == {"runtime_version": "0.3.0"}


def test_create_pull_request_returns_number_and_url_and_reuses_an_open_one(
    forge: FakeForge, sentinel: str
) -> None:
    with client(forge, sentinel) as api:
        first = api.create_pull_request(
            "molecule-ai/template-a", head="runtime-bump/0.3.0", base="main", title="t", body="b"
        )
        again = api.create_pull_request(
            "molecule-ai/template-a", head="runtime-bump/0.3.0", base="main", title="t", body="b"
        )
    assert (first.number, first.existed) == (1, False)
    assert first.url.endswith("/molecule-ai/template-a/pull/1")
    assert (again.number, again.existed) == (1, True)
    assert len(forge.pulls) == 1


def test_gitea_owner_and_name_are_sent_in_lower_case(sentinel: str) -> None:
    server = FakeForge("gitea", sentinel).start()
    try:
        server.add_repo("molecule-ai/template-a", {".runtime-version": b"0.3.0\n"})
        with client(server, sentinel) as api:
            data = api.read_file("Molecule-AI/Template-A", ".runtime-version")
        assert data == b"0.3.0\n"
        assert (
            server.requests[-1].path
            == "/api/v1/repos/molecule-ai/template-a/contents/.runtime-version"
        )
    finally:
        server.stop()


def test_read_file_decodes_base64_and_absent_file_is_none(forge: FakeForge, sentinel: str) -> None:
    with client(forge, sentinel) as api:
        assert (
            api.read_file("molecule-ai/template-a", ".runtime-version", ref="main")
            == b"0.2.0\n# junk\n"
        )
        assert api.read_file("molecule-ai/template-a", "requirements.txt") is None
    assert forge.requests[-2].query == {"ref": ["main"]}


def test_list_org_repos_follows_every_page(forge: FakeForge, sentinel: str) -> None:
    for i in range(120):
        forge.add_repo(f"molecule-ai/extra-{i:03d}", archived=i == 7)
    with client(forge, sentinel) as api:
        repos = api.list_org_repos("molecule-ai")
    assert len(repos) == 121
    assert sum(r.archived for r in repos) == 1
    pages = [r for r in forge.requests if r.path.endswith("/orgs/molecule-ai/repos")]
    assert len(pages) == (2 if forge.kind == "github" else 3)


def test_401_403_404_each_say_what_to_do_without_the_token(forge: FakeForge, sentinel: str) -> None:
    with client(forge, "wrong-token-value") as api, pytest.raises(ForgeError) as unauthorized:
        api.dispatch("molecule-ai/template-a", {"runtime_version": "0.3.0"})
    assert unauthorized.value.status == 401
    assert "HTTP 401 unauthorized" in str(unauthorized.value)
    assert "CASCADE_TOKEN" in str(unauthorized.value)

    forge.org_scope = False
    with client(forge, sentinel) as api, pytest.raises(ForgeError) as forbidden:
        api.list_org_repos("molecule-ai")
    assert forbidden.value.status == 403
    assert "HTTP 403 forbidden" in str(forbidden.value)
    assert "read:organization" in str(forbidden.value)

    with client(forge, sentinel) as api, pytest.raises(ForgeError) as missing:
        api.dispatch("molecule-ai/no-such-repo", {"runtime_version": "0.3.0"})
    assert missing.value.status == 404
    assert "HTTP 404 not found" in str(missing.value)
    for error in (unauthorized.value, forbidden.value, missing.value):
        assert sentinel not in str(error)
        assert "wrong-token-value" not in str(error)


def test_server_errors_are_retried_with_backoff(forge: FakeForge, sentinel: str) -> None:
    forge.fail("POST", "/repos/molecule-ai/template-a/dispatches", [500, 502])
    with client(forge, sentinel, attempts=3) as api:
        api.dispatch("molecule-ai/template-a", {"runtime_version": "0.3.0"})
    posts = [r for r in forge.requests if r.path.endswith("/dispatches")]
    assert len(posts) == 3
    assert len(forge.dispatches) == 1


def test_a_server_error_that_persists_is_reported_as_5xx(forge: FakeForge, sentinel: str) -> None:
    forge.fail("GET", "/repos/molecule-ai/template-a/contents", [500, 500])
    with client(forge, sentinel, attempts=2) as api, pytest.raises(ForgeError) as failing:
        api.read_file("molecule-ai/template-a", ".runtime-version")
    assert failing.value.status == 500
    assert "HTTP 500 after 2 attempts" in str(failing.value)
    assert sentinel not in str(failing.value)
