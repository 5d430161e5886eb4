"""The drift guard: pins read from real bare repositories against a real package index."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from fake_forge import FakeForge
from helpers import start_package_index
from test_cascade import TEMPLATE, make_consumer, row_of, run, write_list

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpers import PackageIndex

WHEEL = "molecule_ai_workspace_runtime-{}-py3-none-any.whl"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """A pypiserver serving 0.2.0, 0.3.0 and 0.4.0rc1 of the runtime (file names are enough)."""
    packages = tmp_path_factory.mktemp("drift-index") / "packages"
    packages.mkdir()
    for version in ("0.2.0", "0.3.0", "0.4.0rc1"):
        (packages / WHEEL.format(version)).write_bytes(b"not a real wheel")
    server = start_package_index(packages)
    yield server
    server.stop()


def cells(out: str, name: str) -> list[str]:
    return re.split(r"\s{2,}", row_of(out, name))


def consumer(tmp_path: Path, name: str, pin: str | None) -> Path:
    files = dict(TEMPLATE)
    if pin is None:
        del files[".runtime-version"]
    else:
        files[".runtime-version"] = pin
    return make_consumer(tmp_path, name, files)


def test_drift_reports_laggards_ignores_exempt_and_exits_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: PackageIndex,
) -> None:
    listing = write_list(
        tmp_path,
        [
            {"name": "current", "url": str(consumer(tmp_path, "current", "0.3.0\n"))},
            {"name": "behind", "url": str(consumer(tmp_path, "behind", "0.2.0\n"))},
            {"name": "junk", "url": str(consumer(tmp_path, "junk", "latest\n"))},
            {"name": "nopin", "url": str(consumer(tmp_path, "nopin", None))},
            {"name": "preview", "url": str(consumer(tmp_path, "preview", "0.4.0rc1\n"))},
            {"name": "frozen", "url": str(consumer(tmp_path, "frozen", "0.1.0\n")), "exempt": True},
        ],
    )
    monkeypatch.setenv("RUNTIME_INDEX_URL", index.simple_url)
    code, out, err = run(capsys, "drift", "--consumers", str(listing))
    assert code == 1, err
    assert cells(out, "current")[1:3] == ["current", "0.3.0"]
    assert cells(out, "behind")[1:] == ["lagging", "0.2.0", "pins 0.2.0, latest is 0.3.0"]
    assert cells(out, "junk")[1:] == ["invalid", "latest", "pin 'latest' is not a release version"]
    assert cells(out, "nopin")[1:3] == ["missing", "-"]
    assert cells(out, "preview")[1:3] == ["ahead", "0.4.0rc1"]
    assert cells(out, "frozen")[1:] == ["skipped", "-", "exempt"]
    assert "drift against 0.3.0: 3 lagging" in err


def test_drift_passes_when_every_pin_is_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: PackageIndex
) -> None:
    listing = write_list(tmp_path, [{"name": "a", "url": str(consumer(tmp_path, "a", "0.3.0\n"))}])
    code, out, _ = run(
        capsys, "drift", "--consumers", str(listing), "--index-url", index.simple_url, "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert (report["latest"], report["exit_code"]) == ("0.3.0", 0)
    assert report["rows"][0]["result"] == "current"


def test_no_index_or_an_index_without_releases_is_a_real_error_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: PackageIndex
) -> None:
    listing = write_list(tmp_path, [{"name": "a", "url": str(consumer(tmp_path, "a", "0.3.0\n"))}])
    code, _, err = run(capsys, "drift", "--consumers", str(listing))
    assert code == 2
    assert "set RUNTIME_INDEX_URL or pass --index-url" in err
    code, _, err = run(
        capsys, "drift", "--consumers", str(listing), "--index-url", f"{index.url}/nowhere/"
    )
    assert code == 2
    assert "serves no release of molecule-ai-workspace-runtime" in err


def test_org_listing_finds_blind_spots_and_its_403_is_only_a_warning(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: PackageIndex,
    sentinel: str,
) -> None:
    forge = FakeForge("github", sentinel).start()
    try:
        forge.add_repo("molecule-ai/listed", {".runtime-version": b"0.3.0\n"})
        forge.add_repo("molecule-ai/forgotten", {".runtime-version": b"0.1.1000\n# junk\n"})
        forge.add_repo("molecule-ai/unrelated", {"README.md": b"hi\n"})
        forge.add_repo("molecule-ai/retired", {".runtime-version": b"0.1.0\n"}, archived=True)
        listing = write_list(
            tmp_path,
            [
                {
                    "name": "listed",
                    "url": str(consumer(tmp_path, "listed", "0.3.0\n")),
                    "repository": "Molecule-AI/listed",
                }
            ],
        )
        monkeypatch.setenv("CASCADE_TOKEN", sentinel)
        argv = [
            "drift",
            "--consumers",
            str(listing),
            "--index-url",
            index.simple_url,
            "--org",
            "molecule-ai",
            "--forge-url",
            forge.api_url,
            "--forge-kind",
            "github",
        ]
        code, out, err = run(capsys, *argv)
        assert code == 1
        assert re.split(r"\s{2,}", row_of(out, "molecule-ai/forgotten")) == [
            "molecule-ai/forgotten",
            "main",
            "0.1.1000",
        ]
        assert "unrelated" not in out + err
        assert "retired" not in out + err

        forge.org_scope = False
        code, out, err = run(capsys, *argv)
        assert code == 0
        assert "warning: blind-spot check skipped: GET" in err
        assert "HTTP 403 forbidden" in err
        assert "current" in row_of(out, "listed")
        assert sentinel not in out + err
    finally:
        forge.stop()
