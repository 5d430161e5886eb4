"""Publishing: twine against a real pypiserver, idempotent by sha256, retried, read back."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from fault_proxy import FaultProxy, fault_proxy
from helpers import SENTINEL, sha256_file, write_files

from tooling.errors import ToolingError
from tooling.release.readback import read_back
from tooling.release.retry import RetryPolicy
from tooling.release.twine_run import UploadOutcome, classify_twine_failure
from tooling.release.upload import main, publish_files

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


@pytest.fixture
def flaky_proxy(
    fresh_index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[FaultProxy]]:
    """Uploads go through the proxy; lookups and read-back go straight to the index."""
    with fault_proxy(fresh_index.url) as proxy:
        use_index(monkeypatch, fresh_index, upload_url=proxy.url)
        yield proxy


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
    tmp_path: Path, flaky_proxy: type[FaultProxy], capfd: pytest.CaptureFixture[str]
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
    tmp_path: Path, flaky_proxy: type[FaultProxy]
) -> None:
    # twine retries a 5xx upload by itself, at once, up to 5 times; each retry it reports
    # counts in our budget: the first run is 1 + 5 tries, the second 1 + 2 (its 500 for the
    # wheel, then "Retry 1 of 5" and success).
    flaky_proxy.failures = 7
    files = build_dists(tmp_path / "p", "2.0.0")
    report = publish_files(files, policy=RetryPolicy(attempts=8, backoff=0.05))
    assert [f.attempts for f in report.files] == [9, 9]
    assert flaky_proxy.seen_posts == 9  # 7 refused, then the wheel and the sdist
    read_back(files, policy=FAST)


def test_twines_own_re_posts_count_in_the_budget_so_it_is_never_exceeded(
    tmp_path: Path, flaky_proxy: type[FaultProxy], fresh_index: PackageIndex
) -> None:
    flaky_proxy.failures = -1
    files = build_dists(tmp_path / "p", "2.0.0")
    with pytest.raises(ToolingError, match="upload failed after 6 tries"):
        publish_files(files, policy=RetryPolicy(attempts=2, backoff=0.05))
    assert flaky_proxy.seen_posts == 5  # one twine run only: its 5 POSTs of the wheel
    assert list(fresh_index.packages.iterdir()) == []


def test_index_failing_forever_fails_cleanly_and_a_later_run_succeeds(
    tmp_path: Path,
    fresh_index: PackageIndex,
    flaky_proxy: type[FaultProxy],
    capfd: pytest.CaptureFixture[str],
) -> None:
    flaky_proxy.failures = -1
    files = build_dists(tmp_path / "p", "3.0.0")
    with pytest.raises(ToolingError, match="upload failed after 6 tries") as info:
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
    assert "TWINE_PASSWORD" in str(info.value)
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


# -- outcome unknown: the request went out, the answer did not come back whole ----------------


def stored(index: PackageIndex) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in index.packages.iterdir()}


@pytest.mark.parametrize("fault", ["drop", "truncate"])
def test_an_upload_whose_answer_is_lost_is_settled_by_the_index_not_sent_again(
    tmp_path: Path, flaky_proxy: type[FaultProxy], fresh_index: PackageIndex, fault: str
) -> None:
    # The index stored the wheel but its answer was dropped or cut: the outcome is unknown,
    # the index is read, and the wheel is found there with our sha256.
    flaky_proxy.faults = [fault]
    files = build_dists(tmp_path / "p", "4.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    assert stored(fresh_index) == {p.name: sha256_file(p) for p in files}
    assert flaky_proxy.forwarded_posts == 2  # each file reached the index exactly once
    read_back(files, policy=FAST)


def test_an_upload_that_times_out_is_settled_by_the_index(
    tmp_path: Path, flaky_proxy: type[FaultProxy], fresh_index: PackageIndex
) -> None:
    flaky_proxy.faults = ["hang"]
    flaky_proxy.hang_seconds = 6.0
    files = build_dists(tmp_path / "p", "4.0.0")
    report = publish_files(files, policy=RetryPolicy(attempts=4, backoff=0.05, timeout=3.0))
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    assert stored(fresh_index) == {p.name: sha256_file(p) for p in files}
    assert flaky_proxy.forwarded_posts == 2


def test_503_answers_are_retried_and_the_files_land_once(
    tmp_path: Path, flaky_proxy: type[FaultProxy], fresh_index: PackageIndex
) -> None:
    flaky_proxy.faults = ["503", "503"]
    files = build_dists(tmp_path / "p", "4.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["uploaded", "uploaded"]
    assert flaky_proxy.forwarded_posts == 2
    assert stored(fresh_index) == {p.name: sha256_file(p) for p in files}


def test_already_exists_with_our_bytes_is_published_never_a_credentials_problem(
    tmp_path: Path, flaky_proxy: type[FaultProxy], fresh_index: PackageIndex
) -> None:
    # Another run uploads the same bytes between our look-up and our POST: the index refuses
    # ours as "already exists"; reading it back settles the wheel as published.
    flaky_proxy.faults = ["twice"]
    files = build_dists(tmp_path / "p", "5.0.0")
    report = publish_files(files, policy=FAST)
    assert [f.action for f in report.files] == ["already-present", "uploaded"]
    assert flaky_proxy.forwarded_posts == 3
    assert stored(fresh_index) == {p.name: sha256_file(p) for p in files}


@pytest.mark.parametrize(
    ("output", "outcome"),
    [
        ("HTTPError: 403 Forbidden from http://x/\nForbidden", UploadOutcome.UNAUTHORIZED),
        ("HTTPError: 401 Unauthorized from http://x/", UploadOutcome.UNAUTHORIZED),
        ("HTTPError: 409 Conflict from http://x/\nFile already exists", UploadOutcome.CONFLICT),
        ("HTTPError: 400 Bad Request from http://x/\nBad Request", UploadOutcome.CONFLICT),
        ("HTTPError: 422 Unprocessable Entity from http://x/", UploadOutcome.REFUSED),
        ("HTTPError: 429 Too Many Requests from http://x/", UploadOutcome.UNKNOWN),
        ("HTTPError: 503 Service Unavailable from http://x/", UploadOutcome.UNKNOWN),
        ("ChunkedEncodingError: Connection broken: IncompleteRead(10 bytes read)",
         UploadOutcome.UNKNOWN),
        ("ConnectionError: ('Connection aborted.', RemoteDisconnected(...))",
         UploadOutcome.UNKNOWN),
        ("ReadTimeout: read timed out", UploadOutcome.UNKNOWN),
    ],
)
def test_each_twine_failure_is_classified_by_what_it_tells_about_the_files(
    output: str, outcome: UploadOutcome
) -> None:
    assert classify_twine_failure(output) is outcome
