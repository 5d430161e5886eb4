"""The token preflight: one request per forge host before any clone; a 401 stops the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fake_forge import FakeForge
from fleet import write_wheel
from helpers import start_package_index
from test_cascade import VERSION, make_consumer, run, write_list

from tooling.cascade.consumers import load_consumers
from tooling.cascade.preflight import ForgeHost, forge_hosts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GOOD = "good-token-" + "5b1e"


@pytest.fixture
def gitea() -> Iterator[FakeForge]:
    forge = FakeForge("gitea", GOOD).start()
    yield forge
    forge.stop()


def remote_fleet(tmp_path: Path, forge: FakeForge) -> Path:
    """Two consumers whose git remotes are on the forge itself (as on a real Gitea)."""
    web = forge.api_url.removesuffix("/api/v1")
    return write_list(
        tmp_path,
        [
            {"name": "claude-code", "url": f"{web}/molecule-ai/claude-code.git"},
            {"name": "hermes", "url": f"{web}/molecule-ai/hermes.git"},
        ],
    )


@pytest.mark.parametrize(
    ("command", "extra", "exit_code"),
    [
        ("cascade", ["--version", VERSION], 1),
        ("converge", ["--version", VERSION], 1),
        ("drift", ["--index-url", "http://127.0.0.1:9/simple/"], 2),
    ],
)
def test_a_rejected_token_stops_the_run_at_once_with_one_line_and_no_clone(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    gitea: FakeForge,
    sentinel: str,
    command: str,
    extra: list[str],
    exit_code: int,
) -> None:
    listing = remote_fleet(tmp_path, gitea)
    monkeypatch.setenv("CASCADE_TOKEN", sentinel)  # not the token the forge knows
    code, out, err = run(capsys, command, "--consumers", str(listing), *extra)
    assert code == exit_code
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    host = gitea.api_url.split("/")[2]
    assert errors == [
        (
            f"error: {host}: CASCADE_TOKEN was rejected (HTTP 401 on GET {gitea.api_url}/user); "
            "renew it or set CASCADE_TOKEN to a token valid there; nothing was cloned"
        )
    ]
    # One request, the documented "current user" endpoint; no git request (no clone) at all.
    assert [(r.method, r.path) for r in gitea.requests] == [("GET", "/api/v1/user")]
    assert gitea.requests[0].headers["Authorization"] == f"token {sentinel}"
    assert sentinel not in out + err


def test_one_request_per_host_however_many_consumers_live_there(
    tmp_path: Path, gitea: FakeForge
) -> None:
    listing = load_consumers(remote_fleet(tmp_path, gitea))
    hosts = forge_hosts(listing.active)
    assert hosts == (ForgeHost("gitea", gitea.api_url),)


def test_an_actions_token_that_may_not_read_users_passes_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = FakeForge("github", GOOD).start()
    try:
        forge.user_forbidden = True
        forge.add_repo("molecule-ai/autogen")
        bare = make_consumer(tmp_path, "autogen")
        entry: dict[str, object] = {
            "name": "autogen", "url": str(bare), "mode": "dispatch", "forge": "github",
            "api-url": forge.api_url, "repository": "molecule-ai/autogen",
        }
        listing = write_list(tmp_path, [entry])
        monkeypatch.setenv("CASCADE_TOKEN", GOOD)
        code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
        assert code == 0, out + err
        assert [(r.method, r.path) for r in forge.requests] == [
            ("GET", "/user"), ("POST", "/repos/molecule-ai/autogen/dispatches"),
        ]
    finally:
        forge.stop()


def test_without_a_token_nothing_is_asked_and_the_skip_warning_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gitea: FakeForge
) -> None:
    listing = remote_fleet(tmp_path, gitea)
    code, _, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 0
    assert "warning: CASCADE_TOKEN is not set" in err
    assert gitea.requests == []


def test_a_missing_org_scope_is_the_warning_said_before_any_consumer_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    write_wheel(packages, VERSION)
    index = start_package_index(packages)
    forge = FakeForge("gitea", GOOD).start()
    try:
        forge.org_scope = False
        bare = make_consumer(tmp_path, "listed")
        listing = write_list(tmp_path, [{"name": "listed", "url": str(bare)}])
        monkeypatch.setenv("CASCADE_TOKEN", GOOD)
        code, _, err = run(
            capsys, "drift", "--consumers", str(listing), "--index-url", index.simple_url,
            "--org", "molecule-ai", "--forge-url", forge.api_url, "--forge-kind", "gitea",
        )
        assert code == 1  # listed pins 0.2.0: it lags; the org gap is only a warning
        warning = err.index("warning: blind-spot check skipped: GET")
        assert warning < err.index("listed: lagging")
        assert err.count("blind-spot check skipped") == 1
        paths = [r.path for r in forge.requests]
        assert paths == ["/api/v1/user", "/api/v1/orgs/molecule-ai/repos"]
    finally:
        forge.stop()
        index.stop()
