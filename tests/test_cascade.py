"""Cascade and converge against real bare repositories in a temp dir."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from fake_forge import FakeForge
from fleet import NEEDS_UNMET, compat, repo_bytes, write_wheel
from helpers import commit, git, init_repo, start_package_index
from test_summary import read_summary

from tooling.cascade.cli import main
from tooling.cascade.consumers import load_consumers
from tooling.cascade.engine import cascade_all, converge_all
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

VERSION = "0.3.0"
MESSAGE = "chore(deps): bump molecule-ai-workspace-runtime to 0.3.0"
TEMPLATE = {
    ".github/workflows/publish-image.yml": "on: push\n",
    ".runtime-version": "0.2.0\n",
    "requirements.txt": "httpx>=0.27\nmolecule-ai-workspace-runtime==0.2.0\n",
    "README.md": "a workspace template\n",
}


def make_consumer(
    root: Path, name: str, files: Mapping[str, str | bytes] | None = None
) -> Path:
    """A bare repository shaped like a workspace template, branch main."""
    work = init_repo(root / "work" / name, TEMPLATE if files is None else files)
    bare = root / f"{name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def write_list(root: Path, entries: list[dict[str, object]], defaults: str = "") -> Path:
    lines = ["[defaults]", defaults, ""]
    for entry in entries:
        lines.append("[[consumer]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
        lines.append("")
    path = root / "consumers.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def head(bare: Path, ref: str = "main") -> str:
    return git(bare, "rev-parse", ref)


def show(bare: Path, path: str, ref: str = "main") -> bytes:
    return subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=bare, capture_output=True, check=True
    ).stdout


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def hook(bare: Path, script: str) -> None:
    path = bare / "hooks" / "pre-receive"
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)


def row_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"{name} "))


def test_cascade_rewrites_the_pin_bumps_requirements_and_pushes_one_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requirements = (
        b"httpx>=0.27  # molecule-ai-workspace-runtime==0.1 in a comment\n"
        b"molecule-ai-workspace-runtime==0.1.1000\n"
        b"molecule_ai_workspace_runtime[otel]>=0.1.0; python_version >= '3.11'\r\n"
        b"Molecule.AI-Workspace_Runtime~=0.1.0  # keep\n"
        b"PyYAML>=6"
    )
    bare = make_consumer(
        tmp_path,
        "openclaw",
        {
            ".github/workflows/publish-image.yml": "on: push\n",
            ".runtime-version": "0.1.1000\n",
            "requirements.txt": requirements,
            "docker/requirements.txt": "molecule-ai-workspace-runtime>=0.1\n",
        },
    )
    listing = write_list(
        tmp_path,
        [{"name": "openclaw", "url": str(bare)}],
        'requirements = ["requirements.txt", "docker/requirements.txt", "absent.txt"]',
    )
    code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 0, out + err
    assert "updated" in row_of(out, "openclaw")
    assert show(bare, ".runtime-version") == b"0.3.0\n"
    assert show(bare, "requirements.txt") == (
        b"httpx>=0.27  # molecule-ai-workspace-runtime==0.1 in a comment\n"
        b"molecule-ai-workspace-runtime==0.3.0\n"
        b"molecule_ai_workspace_runtime[otel]>=0.3.0; python_version >= '3.11'\r\n"
        b"Molecule.AI-Workspace_Runtime~=0.3.0  # keep\n"
        b"PyYAML>=6"
    )
    assert show(bare, "docker/requirements.txt") == b"molecule-ai-workspace-runtime>=0.3.0\n"
    assert git(bare, "log", "-1", "--format=%s") == MESSAGE
    assert git(bare, "rev-list", "--count", "main") == "2"


def test_a_consumer_with_only_gitea_workflows_is_cascaded(tmp_path: Path) -> None:
    files = {**TEMPLATE}
    files[".gitea/workflows/publish-image.yml"] = files.pop(".github/workflows/publish-image.yml")
    bare = make_consumer(tmp_path, "codex", files)
    listing = load_consumers(write_list(tmp_path, [{"name": "codex", "url": bare.as_uri()}]))
    report = cascade_all(listing, VERSION, token="")
    assert [(r.consumer, r.result) for r in report.rows] == [("codex", "updated")]
    assert show(bare, ".runtime-version") == b"0.3.0\n"


def test_each_skip_reason_is_named_and_those_repositories_are_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_workflow = make_consumer(tmp_path, "no-workflow", {".runtime-version": "0.2.0\n"})
    ci_only = make_consumer(
        tmp_path, "ci-only", {".github/workflows/ci.yml": "on: push\n", "README.md": "x\n"}
    )
    exempt = make_consumer(tmp_path, "exempt")
    heads = {p: head(p) for p in (no_workflow, ci_only, exempt)}
    listing = write_list(
        tmp_path,
        [
            {"name": "no-workflow", "url": str(no_workflow)},
            {"name": "ci-only", "url": str(ci_only)},
            {"name": "exempt", "url": str(exempt), "exempt": True},
            {"name": "remote", "url": "https://git.example.invalid/molecule-ai/remote.git"},
        ],
    )
    code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 0
    reason = "skipped  no release workflow (publish-image.yml) in .github/workflows/"
    assert reason in row_of(out, "no-workflow")
    assert reason in row_of(out, "ci-only")
    assert "skipped  exempt" in row_of(out, "exempt")
    assert "skipped  needs CASCADE_TOKEN" in row_of(out, "remote")
    assert err.count("warning: CASCADE_TOKEN is not set") == 1
    assert {p: head(p) for p in heads} == heads


def test_an_already_current_consumer_gets_no_commit(tmp_path: Path) -> None:
    bare = make_consumer(
        tmp_path,
        "current",
        {
            **TEMPLATE,
            ".runtime-version": "0.3.0\n",
            "requirements.txt": "molecule-ai-workspace-runtime==0.3.0\n",
        },
    )
    before = head(bare)
    report = cascade_all(
        [*load_consumers(write_list(tmp_path, [{"name": "current", "url": str(bare)}])).consumers],
        VERSION,
        token="",
    )
    assert (report.rows[0].result, report.rows[0].reason) == ("current", "already at 0.3.0")
    assert head(bare) == before


def test_a_push_that_lands_between_clone_and_push_is_fetched_reapplied_and_retried(
    tmp_path: Path
) -> None:
    bare = make_consumer(tmp_path, "race")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    concurrent = commit(other, "docs: someone else's change", {"README.md": "changed meanwhile\n"})
    git(other, "push", "-q", "origin", "HEAD:refs/concurrent/next")
    # The first push finds main moved under it, exactly as if that commit was pushed meanwhile.
    hook(
        bare,
        (
            "if [ ! -f raced ]; then touch raced; "
            "env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main refs/concurrent/next; fi\n"
        ),
    )
    listing = load_consumers(write_list(tmp_path, [{"name": "race", "url": str(bare)}]))
    report = cascade_all(listing, VERSION, token="")
    row = report.rows[0]
    assert (row.result, row.attempts) == ("updated", 2)
    assert show(bare, ".runtime-version") == b"0.3.0\n"
    assert show(bare, "README.md") == b"changed meanwhile\n"
    assert git(bare, "rev-parse", "main^") == concurrent


def test_a_rejecting_remote_fails_alone_is_named_and_converge_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = make_consumer(tmp_path, "good")
    locked = make_consumer(tmp_path, "locked")
    hook(locked, 'echo "protected branch: pushes need review" >&2\nexit 1\n')
    listing = write_list(
        tmp_path,
        [
            {"name": "locked", "url": str(locked)},
            {"name": "good", "url": str(good)},
        ],
    )
    code, out, _ = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 1
    assert "updated" in row_of(out, "good")
    failed = row_of(out, "locked")
    assert "failed" in failed
    assert "pre-receive hook declined" in failed
    assert "protected branch: pushes need review" in failed
    assert show(good, ".runtime-version") == b"0.3.0\n"

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)
    assert code == 1
    assert (
        "::error msg=cascade-divergence consumer=locked got=0.2.0 want=0.3.0::" in out.splitlines()
    )
    assert "converged" in row_of(out, "good")


def test_converge_catches_a_pin_changed_out_of_band_after_the_cascade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = make_consumer(tmp_path, "hermes")
    listing = write_list(tmp_path, [{"name": "hermes", "url": str(bare)}])
    assert run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)[0] == 0
    assert run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)[0] == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    commit(other, "chore: pin by hand", {".runtime-version": "0.1.1000\n# fire-publish-image-1\n"})
    git(other, "push", "-q", "origin", "HEAD:main")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)
    assert code == 1
    assert (
        "::error msg=cascade-divergence consumer=hermes got=0.1.1000 want=0.3.0::"
        in out.splitlines()
    )
    assert "diverged  pin is '0.1.1000', want 0.3.0" in row_of(out, "hermes")


def test_an_invalid_version_is_refused_before_any_consumer_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = make_consumer(tmp_path, "any")
    before = head(bare)
    listing = write_list(tmp_path, [{"name": "any", "url": str(bare)}])
    code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", "v0.3")
    assert code == 1
    assert "error: --version: 'v0.3' is not a release version" in err
    assert out == ""
    with pytest.raises(ToolingError, match="not a release version"):
        cascade_all(load_consumers(listing), "0.3.0\n# junk", token="")
    assert head(bare) == before


def test_converge_skips_and_succeeds_when_the_cascade_was_skipped_for_lack_of_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = write_list(
        tmp_path,
        [
            {"name": "a", "url": "https://git.example.invalid/molecule-ai/a.git"},
            {"name": "b", "url": "https://git.example.invalid/molecule-ai/b.git"},
        ],
    )
    assert run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)[0] == 0
    code, _, err = run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)
    assert code == 0
    assert "converge skipped: the cascade was skipped (no CASCADE_TOKEN)" in err
    assert err.count("warning: CASCADE_TOKEN is not set") == 1


def test_converge_reports_a_missing_pin_and_skips_what_the_cascade_skipped(tmp_path: Path) -> None:
    lost = make_consumer(tmp_path, "lost", {".gitea/workflows/publish-image.yml": "on: push\n"})
    plain = make_consumer(tmp_path, "plain", {"README.md": "no workflows\n"})
    listing = load_consumers(
        write_list(
            tmp_path,
            [
                {"name": "lost", "url": str(lost)},
                {"name": "plain", "url": str(plain)},
            ],
        )
    )
    report = converge_all(listing, VERSION, token="")
    assert [(r.consumer, r.result) for r in report.rows] == [
        ("lost", "missing"),
        ("plain", "skipped"),
    ]
    assert not report.ok


def test_pr_mode_pushes_the_bump_branch_and_opens_a_pull_request(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sentinel: str,
) -> None:
    forge = FakeForge("gitea", sentinel).start()
    try:
        forge.add_repo("molecule-ai/langgraph")
        bare = make_consumer(tmp_path, "langgraph")
        before = head(bare)
        listing = write_list(
            tmp_path,
            [
                {
                    "name": "langgraph",
                    "url": str(bare),
                    "mode": "pr",
                    "forge": "gitea",
                    "api-url": forge.api_url,
                    "repository": "Molecule-AI/LangGraph",
                }
            ],
        )
        monkeypatch.setenv("CASCADE_TOKEN", sentinel)
        code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["version"] == VERSION  # pyproject's version by default
        row = report["rows"][0]
        assert (row["action"], row["result"]) == ("pr", "updated")
        assert row["url"] == "https://gitea.example/molecule-ai/langgraph/pull/1"
        assert head(bare) == before
        assert show(bare, ".runtime-version", "runtime-bump/0.3.0") == b"0.3.0\n"
        pull = forge.pulls[0]
        assert (pull["head"], pull["base"], pull["title"]) == (
            {"ref": "runtime-bump/0.3.0"},
            {"ref": "main"},
            MESSAGE,
        )
        code, out, err = run(capsys, "converge", "--consumers", str(listing))
        assert code == 0
        assert "pending" in row_of(out, "langgraph")
        assert sentinel not in out + err
    finally:
        forge.stop()


def test_dispatch_mode_sends_runtime_published_and_leaves_the_repository_alone(
    tmp_path: Path, sentinel: str
) -> None:
    forge = FakeForge("github", sentinel).start()
    try:
        forge.add_repo("molecule-ai/autogen")
        bare = make_consumer(tmp_path, "autogen")
        before = head(bare)
        listing = load_consumers(
            write_list(
                tmp_path,
                [
                    {
                        "name": "autogen",
                        "url": str(bare),
                        "mode": "dispatch",
                        "forge": "github",
                        "api-url": forge.api_url,
                        "repository": "molecule-ai/autogen",
                    }
                ],
            )
        )
        report = cascade_all(listing, VERSION, token=sentinel)
        assert (report.rows[0].action, report.rows[0].result) == ("dispatch", "updated")
        assert forge.dispatches == [
            {
                "repo": "molecule-ai/autogen",
                "event_type": "runtime-published",
                "client_payload": {"runtime_version": VERSION},
            }
        ]
        assert forge.requests[-1].headers["Authorization"] == f"Bearer {sentinel}"
        assert head(bare) == before
    finally:
        forge.stop()


class _Refusing(BaseHTTPRequestHandler):
    seen: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        if self.path == "/api/v1/user":  # the token preflight passes: only git refuses
            body = b'{"login": "cascade-bot"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="forge"')
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_the_token_reaches_git_through_the_credential_helper_and_never_the_output(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sentinel: str,
) -> None:
    seen: list[str] = []
    handler = type("Handler", (_Refusing,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/molecule-ai/claude-code.git"
        listing = write_list(tmp_path, [{"name": "claude-code", "url": url}])
        monkeypatch.setenv("CASCADE_TOKEN", sentinel)
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        code, out, err = run(
            capsys, "cascade", "--consumers", str(listing), "--version", VERSION, "--json"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    credentials = [base64.b64decode(h.split()[1]).decode() for h in seen if h.startswith("Basic ")]
    assert f"x-access-token:{sentinel}" in credentials
    assert json.loads(out)["rows"][0]["result"] == "failed"
    assert "Authentication failed" in err
    assert sentinel not in out + err
    assert sentinel not in json.dumps(dict(os.environ)).replace(
        sentinel, "", 1
    )  # only CASCADE_TOKEN


# --- the real consumer shapes -----------------------------------------------------------------

TEMPLATE_REQUIREMENTS = "a2a-sdk[http-server]>=0.2.5\nmolecule-ai-workspace-runtime>=0.1.0\nhttpx\n"


def template_fleet(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """Shaped like the real templates: requirements pins, no .runtime-version anywhere."""
    github = {
        ".github/workflows/publish-image.yml": "on: push\n",
        ".github/workflows/ci.yml": "on: pull_request\n",
        "requirements.txt": TEMPLATE_REQUIREMENTS,
    }
    bares = {
        "claude-code": make_consumer(tmp_path, "claude-code", github),
        "langgraph": make_consumer(tmp_path, "langgraph", github),
        "codex": make_consumer(
            tmp_path, "codex",
            {".gitea/workflows/publish-image.yml": "on: push\n",
             "requirements.txt": TEMPLATE_REQUIREMENTS},
        ),
        "deepagents": make_consumer(
            tmp_path, "deepagents",
            {".github/workflows/ci.yml": "on: push\n", "requirements.txt": TEMPLATE_REQUIREMENTS},
        ),
    }
    entries: list[dict[str, object]] = [{"name": n, "url": str(b)} for n, b in bares.items()]
    entries[1]["pin-file"] = False  # langgraph pins only in requirements.txt
    return write_list(tmp_path, entries), bares


def test_one_cascade_pins_and_converges_the_real_template_fleet_and_a_second_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing, bares = template_fleet(tmp_path)
    skipped_head = head(bares["deepagents"])
    code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 0, out + err
    for name in ("claude-code", "langgraph", "codex"):
        assert "updated" in row_of(out, name)
    assert "skipped  no release workflow (publish-image.yml)" in row_of(out, "deepagents")
    bumped = TEMPLATE_REQUIREMENTS.replace(">=0.1.0", ">=0.3.0").encode()
    for name in ("claude-code", "codex"):
        assert show(bares[name], ".runtime-version") == b"0.3.0\n"  # created, exactly X\n
        assert show(bares[name], "requirements.txt") == bumped
    assert show(bares["langgraph"], "requirements.txt") == bumped
    assert b".runtime-version" not in subprocess.run(
        ["git", "ls-tree", "--name-only", "main"], cwd=bares["langgraph"],
        capture_output=True, check=True,
    ).stdout
    assert head(bares["deepagents"]) == skipped_head

    code, out, err = run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)
    assert code == 0, out + err
    for name in ("claude-code", "langgraph", "codex"):
        assert "converged  pin is 0.3.0" in row_of(out, name)
    assert "skipped" in row_of(out, "deepagents")

    heads = {name: head(bare) for name, bare in bares.items()}
    code, out, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 0, out + err
    assert "cascade 0.3.0: 0 updated, 3 current, 1 skipped, 0 held, 0 failed" in err
    assert {name: head(bare) for name, bare in bares.items()} == heads


def test_a_pin_with_more_than_a_version_is_never_overwritten_and_fails_the_cascade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = make_consumer(
        tmp_path, "openclaw",
        {**TEMPLATE, ".runtime-version": "0.1.1000\n# fire-publish-image-1778872861\n"},
    )
    before = head(bare)
    listing = write_list(tmp_path, [{"name": "openclaw", "url": str(bare)}])
    code, out, _ = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 1
    assert (
        "failed  pin file .runtime-version holds more than a version line (first line: "
        "'0.1.1000'); not overwritten"
    ) in row_of(out, "openclaw")
    assert head(bare) == before


def test_a_pin_path_that_is_a_symlink_or_directory_is_named_alike_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = init_repo(tmp_path / "work" / "linked", {**TEMPLATE, "VERSION": "0.2.0\n"})
    git(work, "rm", "-q", ".runtime-version")
    (work / ".runtime-version").symlink_to("VERSION")
    commit(work, "link the pin", {"docs/x.md": "x\n"})
    linked = tmp_path / "linked.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(linked)], check=True)
    as_folder = {k: v for k, v in TEMPLATE.items() if k != ".runtime-version"}
    folder = make_consumer(tmp_path, "folder", {**as_folder, ".runtime-version/x": "0.2.0\n"})
    listing = write_list(
        tmp_path, [{"name": "linked", "url": str(linked)}, {"name": "folder", "url": str(folder)}]
    )
    packages = tmp_path / "packages"
    packages.mkdir()
    write_wheel(packages, VERSION)
    index = start_package_index(packages)
    try:
        outputs = {
            command: run(capsys, command, "--consumers", str(listing), *extra)
            for command, extra in (
                ("cascade", ["--version", VERSION]),
                ("converge", ["--version", VERSION]),
                ("drift", ["--index-url", index.simple_url]),
            )
        }
    finally:
        index.stop()
    for command, (code, out, _) in outputs.items():
        assert code != 0, command
        assert (
            "pin path .runtime-version is a symlink, not a regular file" in row_of(out, "linked")
        ), command
        assert (
            "pin path .runtime-version is a directory, not a regular file" in row_of(out, "folder")
        ), command


def test_dispatch_needs_no_pin_file(tmp_path: Path, sentinel: str) -> None:
    forge = FakeForge("github", sentinel).start()
    try:
        forge.add_repo("molecule-ai/autogen")
        files = {k: v for k, v in TEMPLATE.items() if k != ".runtime-version"}
        bare = make_consumer(tmp_path, "autogen", files)
        entry: dict[str, object] = {
            "name": "autogen", "url": str(bare), "mode": "dispatch", "forge": "github",
            "api-url": forge.api_url, "repository": "molecule-ai/autogen",
        }
        report = cascade_all(load_consumers(write_list(tmp_path, [entry])), VERSION, token=sentinel)
        assert (report.rows[0].action, report.rows[0].result) == ("dispatch", "updated")
        assert report.rows[0].reason == "sent runtime-published (nothing -> 0.3.0)"
        assert len(forge.dispatches) == 1
    finally:
        forge.stop()


def test_defaults_author_signs_cascade_commits(tmp_path: Path) -> None:
    bare = make_consumer(tmp_path, "hermes")
    listing = write_list(
        tmp_path, [{"name": "hermes", "url": str(bare)}],
        'author = "Runtime Release Bot <runtime-bot@example.org>"',
    )
    cascade_all(load_consumers(listing), VERSION, token="")
    assert git(bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Runtime Release Bot <runtime-bot@example.org>|"
        "Runtime Release Bot <runtime-bot@example.org>"
    )


def test_a_consumer_whose_needs_the_release_lacks_is_held_and_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = make_consumer(tmp_path, "held", {**TEMPLATE, "runtime-needs.toml": NEEDS_UNMET})
    fine = make_consumer(
        tmp_path, "fine", {**TEMPLATE, "runtime-needs.toml": 'plugin-api = "~=1.1"\n'}
    )
    before = repo_bytes(held)
    compat_file = tmp_path / "compat.json"
    compat_file.write_text(json.dumps(compat(VERSION)), encoding="utf-8")
    listing = write_list(
        tmp_path, [{"name": "held", "url": str(held)}, {"name": "fine", "url": str(fine)}]
    )
    argv = ["--consumers", str(listing), "--version", VERSION, "--compat", str(compat_file)]
    code, out, err = run(capsys, "cascade", *argv)
    assert code == 3, out + err
    reason = "0.3.0 does not meet runtime-needs.toml: adapter-protocol: 2 does not satisfy >=3"
    assert re.split(r"\s{2,}", row_of(out, "held"))[1:] == ["none", "held", reason]
    assert "updated" in row_of(out, "fine")
    assert repo_bytes(held) == before
    code, out, _ = run(capsys, "converge", *argv)
    assert code == 3
    assert "held" in row_of(out, "held")
    assert "converged" in row_of(out, "fine")
    assert run(capsys, "converge", *argv, "--allow-held")[0] == 0
    assert run(capsys, "cascade", *argv, "--allow-held")[0] == 0
    assert repo_bytes(held) == before


def test_the_cascade_summary_links_the_pull_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    sentinel: str,
) -> None:
    forge = FakeForge("gitea", sentinel).start()
    try:
        forge.add_repo("molecule-ai/hermes")
        bare = make_consumer(tmp_path, "hermes")
        entry: dict[str, object] = {
            "name": "hermes", "url": str(bare), "mode": "pr", "forge": "gitea",
            "api-url": forge.api_url, "repository": "molecule-ai/hermes",
        }
        listing = write_list(tmp_path, [entry])
        summary = tmp_path / "summary.md"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        monkeypatch.setenv("CASCADE_TOKEN", sentinel)
        code, _, err = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
        assert code == 0, err
        code, _, err = run(capsys, "converge", "--consumers", str(listing), "--version", VERSION)
        assert code == 0, err
    finally:
        forge.stop()
    cascaded, converged = read_summary(summary)
    assert cascaded.title == "cascade 0.3.0"
    assert cascaded.paragraphs == ["1 updated"]
    row = cascaded.rows()[0]
    assert (row["consumer"].text, row["action"].text, row["result"].text) == (
        "hermes", "pr", "updated"
    )
    assert row["change"].links == ["https://gitea.example/molecule-ai/hermes/pull/1"]
    assert converged.title == "converge 0.3.0"
    assert converged.rows()[0]["result"].text == "pending"
    assert sentinel not in summary.read_text(encoding="utf-8")


def test_a_pin_below_a_symlinked_folder_is_named_and_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = init_repo(tmp_path / "work" / "nested", {**TEMPLATE, "real/.runtime-version": "0.2.0\n"})
    (work / "config").symlink_to("real")
    commit(work, "link config", {"docs/x.md": "x\n"})
    bare = tmp_path / "nested.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    before = head(bare)
    listing = write_list(
        tmp_path, [{"name": "nested", "url": str(bare), "pin-file": "config/.runtime-version"}]
    )
    code, out, _ = run(capsys, "cascade", "--consumers", str(listing), "--version", VERSION)
    assert code == 1
    assert (
        "pin path config/.runtime-version is a path below the symlink config, not a regular file"
    ) in row_of(out, "nested")
    assert head(bare) == before
