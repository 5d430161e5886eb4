"""Publishing: twine against a real pypiserver, idempotent by sha256, retried, read back."""

from __future__ import annotations

import http.client
import http.server
import json
import subprocess
import sys
import threading
import urllib.parse
from typing import TYPE_CHECKING

import pytest
from helpers import SENTINEL, sha256_file, write_files

from tooling.errors import ToolingError
from tooling.release.upload import RetryPolicy, main, publish_files, read_back

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpers import PackageIndex

pytestmark = pytest.mark.slow

FAST = RetryPolicy(attempts=4, backoff=0.05)

@pytest.fixture(autouse=True)
def _no_secret_in_any_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a test prints (or its subprocesses print) must not hold the sentinel."""
    yield
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err



_BUILT: dict[tuple[str, str], tuple[Path, ...]] = {}


def build_dists(root: Path, version: str, body: str = "X = 1\n") -> tuple[Path, ...]:
    """A tiny real wheel and sdist (flit_core, no isolation: no network), built once a session."""
    if (version, body) in _BUILT:
        return _BUILT[version, body]
    write_files(root, {
        "pyproject.toml": (
            '[build-system]\nrequires = ["flit_core>=3.11"]\nbuild-backend = "flit_core.buildapi"\n'
            f'[project]\nname = "tiny-pkg"\nversion = "{version}"\ndescription = "tiny"\n'
            'readme = "README.md"\nlicense = "MIT"\n'
        ),
        "README.md": "tiny\n",
        "tiny_pkg/__init__.py": body,
    })
    out = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "-q", "--outdir", str(out), str(root)],
        check=True, capture_output=True,
    )
    _BUILT[version, body] = tuple(sorted(out.iterdir()))
    return _BUILT[version, body]


class _FlakyProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the index; answers 500 to the first ``failures`` uploads (POSTs)."""

    upstream: str = ""
    url: str = ""  # where uploads go: this proxy's own address
    failures: int = 0
    seen_posts: int = 0

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "POST":
            type(self).seen_posts += 1
            if type(self).failures != 0:
                type(self).failures -= 1
                self.send_response(500, "Internal Server Error")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        target = urllib.parse.urlsplit(self.upstream)
        assert target.hostname is not None  # the fixture's own http://127.0.0.1:port URL
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        conn.request(self.command, self.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = _forward  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def flaky_proxy(
    fresh_index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[_FlakyProxy]]:
    """Uploads go through the proxy; lookups and read-back go straight to the index."""
    class Proxy(_FlakyProxy):
        upstream = fresh_index.url

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    Proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    use_index(monkeypatch, fresh_index, upload_url=Proxy.url)
    try:
        yield Proxy
    finally:
        server.shutdown()
        server.server_close()


def use_index(monkeypatch: pytest.MonkeyPatch, index: PackageIndex, upload_url: str = "") -> None:
    for key, value in index.twine_env().items():
        monkeypatch.setenv(key, value)
    if upload_url:
        monkeypatch.setenv("TWINE_REPOSITORY_URL", upload_url + "/")


def test_publish_uploads_then_reads_back_the_same_bytes(
    tmp_path: Path,
    fresh_index: PackageIndex,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_index(monkeypatch, fresh_index)
    files = build_dists(tmp_path / "p", "1.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    back = read_back(files, policy=FAST)
    assert {f.filename: f.sha256 for f in back.files} == {p.name: sha256_file(p) for p in files}
    assert all(f.stated_sha256 == f.sha256 for f in back.files)
    stored = {p.name: sha256_file(p) for p in fresh_index.packages.iterdir()}
    assert stored == {p.name: sha256_file(p) for p in files}
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_publishing_the_same_files_again_is_a_no_op(
    tmp_path: Path, fresh_index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_index(monkeypatch, fresh_index)
    files = build_dists(tmp_path / "p", "1.0.0")
    publish_files(files, policy=FAST)
    mtimes = {p.name: p.stat().st_mtime_ns for p in fresh_index.packages.iterdir()}
    again = publish_files(files, policy=FAST)
    assert [f.action for f in again.files] == ["already-present", "already-present"]
    assert [f.attempts for f in again.files] == [0, 0]
    assert {p.name: p.stat().st_mtime_ns for p in fresh_index.packages.iterdir()} == mtimes


def test_same_file_name_with_other_content_is_refused_never_overwritten(
    tmp_path: Path,
    fresh_index: PackageIndex,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_index(monkeypatch, fresh_index)
    first = build_dists(tmp_path / "a", "1.0.0")
    publish_files(first, policy=FAST)
    other = build_dists(tmp_path / "b", "1.0.0", body="X = 2\n")
    assert [p.name for p in other] == [p.name for p in first]
    with pytest.raises(ToolingError, match=r"version 1\.0\.0 already published with different"):
        publish_files(other, policy=FAST)
    stored = {p.name: sha256_file(p) for p in fresh_index.packages.iterdir()}
    assert stored == {p.name: sha256_file(p) for p in first}
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_upload_answered_500_twice_then_200_succeeds(
    tmp_path: Path, flaky_proxy: type[_FlakyProxy], capfd: pytest.CaptureFixture[str]
) -> None:
    flaky_proxy.failures = 2
    files = build_dists(tmp_path / "p", "2.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    assert flaky_proxy.seen_posts == 4
    back = read_back(files, policy=FAST)
    assert [f.sha256 for f in back.files] == [sha256_file(p) for p in files]
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_more_500s_than_twine_retries_itself_are_retried_with_backoff(
    tmp_path: Path, flaky_proxy: type[_FlakyProxy]
) -> None:
    # twine retries a 5xx upload 5 times in a row by itself; the 6th and 7th 500 reach us.
    flaky_proxy.failures = 7
    files = build_dists(tmp_path / "p", "2.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.attempts for f in report.files] == [2, 2]
    read_back(files, policy=FAST)


def test_index_failing_forever_fails_cleanly_and_a_later_run_succeeds(
    tmp_path: Path,
    fresh_index: PackageIndex,
    flaky_proxy: type[_FlakyProxy],
    capfd: pytest.CaptureFixture[str],
) -> None:
    flaky_proxy.failures = -1
    files = build_dists(tmp_path / "p", "3.0.0")
    with pytest.raises(ToolingError, match="upload failed after 4 attempts") as info:
        publish_files(files, policy=FAST)
    assert SENTINEL not in str(info.value)
    assert list(fresh_index.packages.iterdir()) == []
    flaky_proxy.failures = 0
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    read_back(files, policy=FAST)
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_wrong_password_is_refused_without_retrying_or_echoing_it(
    tmp_path: Path,
    fresh_index: PackageIndex,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_index(monkeypatch, fresh_index)
    monkeypatch.setenv("TWINE_PASSWORD", SENTINEL + "-wrong")
    files = build_dists(tmp_path / "p", "1.0.0")
    with pytest.raises(ToolingError, match="upload refused") as info:
        publish_files(files, policy=FAST)
    assert SENTINEL not in str(info.value)
    out = capfd.readouterr()
    assert SENTINEL not in out.out + out.err


def test_publish_needs_the_upload_url_so_it_never_defaults_to_pypi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME_INDEX_URL", "http://127.0.0.1:9/simple/")
    files = build_dists(tmp_path / "p", "1.0.0")
    with pytest.raises(ToolingError, match="TWINE_REPOSITORY_URL is not set"):
        publish_files(files, policy=FAST)


def test_read_back_fails_when_the_index_lacks_a_file(
    tmp_path: Path, fresh_index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_index(monkeypatch, fresh_index)
    files = build_dists(tmp_path / "p", "1.0.0")
    with pytest.raises(ToolingError, match="not served by"):
        read_back(files, policy=FAST)


def test_publish_main_prints_json_report(
    tmp_path: Path,
    fresh_index: PackageIndex,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_index(monkeypatch, fresh_index)
    files = build_dists(tmp_path / "p", "1.0.0")
    assert main([*map(str, files), "--json", "--backoff", "0.05"]) == 0
    out = capfd.readouterr()
    report = json.loads(out.out)
    assert [f["sha256"] for f in report["read_back"]["files"]] == [sha256_file(p) for p in files]
    assert SENTINEL not in out.out + out.err
