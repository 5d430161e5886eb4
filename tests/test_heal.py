"""`drift --fix`: lagging consumers cascaded to the latest release and converged, held ones kept.

Real bare repositories, a real package index serving wheels that carry compat.json.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from fleet import NEEDS_UNMET, repo_bytes, write_wheel
from helpers import start_package_index
from test_cascade import TEMPLATE, head, make_consumer, row_of, run, show, write_list
from test_summary import read_summary

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpers import PackageIndex

@pytest.fixture(autouse=True)
def _no_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no dist/ exists, so compat.json comes from the index's wheel."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """A pypiserver serving 0.2.0 and 0.3.0 of the runtime, each with its compat.json."""
    packages = tmp_path_factory.mktemp("heal-index") / "packages"
    packages.mkdir()
    for version in ("0.2.0", "0.3.0"):
        write_wheel(packages, version)
    server = start_package_index(packages)
    yield server
    server.stop()


def cells(out: str, name: str) -> list[str]:
    return re.split(r"\s{2,}", row_of(out, name))


def lagging_fleet(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """Three consumers at 0.2.0 (one requirements-only, one needing more), one current."""
    bares = {
        "alpha": make_consumer(tmp_path, "alpha"),
        "beta": make_consumer(
            tmp_path, "beta",
            {
                ".github/workflows/publish-image.yml": "on: push\n",
                "requirements.txt": "a2a-sdk>=0.2\nmolecule-ai-workspace-runtime>=0.2.0\n",
            },
        ),
        "gamma": make_consumer(tmp_path, "gamma", {**TEMPLATE, "runtime-needs.toml": NEEDS_UNMET}),
        "delta": make_consumer(tmp_path, "delta", {**TEMPLATE, ".runtime-version": "0.3.0\n"}),
    }
    entries: list[dict[str, object]] = [{"name": n, "url": str(b)} for n, b in bares.items()]
    entries[1]["pin-file"] = False
    return write_list(tmp_path, entries), bares


def test_drift_fix_heals_two_holds_one_and_a_second_run_changes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: PackageIndex,
) -> None:
    listing, bares = lagging_fleet(tmp_path)
    gamma_before = repo_bytes(bares["gamma"])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("RUNTIME_INDEX_URL", index.simple_url)

    code, out, err = run(capsys, "drift", "--consumers", str(listing), "--fix")
    assert code == 3, out + err  # held consumers are all that is left
    assert cells(out, "alpha")[1:3] == ["lagging", "0.2.0"]
    assert cells(out, "gamma")[1] == "held"
    held = "0.3.0 does not meet runtime-needs.toml: adapter-protocol: 2 does not satisfy >=3"
    assert held in row_of(out, "gamma")
    fixed = out[out.index("drift --fix to 0.3.0:") :]
    assert cells(fixed, "alpha")[1] == "healed"
    assert cells(fixed, "beta")[1] == "healed"
    assert cells(fixed, "gamma")[1:] == ["held", held]  # found held: never touched
    assert "drift --fix 0.3.0: 2 healed, 0 still lagging, 1 held, 0 failed" in err
    assert show(bares["alpha"], ".runtime-version") == b"0.3.0\n"
    assert show(bares["beta"], "requirements.txt") == (
        b"a2a-sdk>=0.2\nmolecule-ai-workspace-runtime>=0.3.0\n"
    )
    assert repo_bytes(bares["gamma"]) == gamma_before

    drift, healed = read_summary(summary)
    assert drift.title == "drift"
    assert drift.paragraphs[0] == "latest release: 0.3.0"
    rows = {r["consumer"].text: r for r in drift.rows()}
    assert rows["gamma"]["result"].text == "held"
    assert rows["delta"]["result"].text == "current"
    assert healed.title == "drift --fix to 0.3.0"
    done = {r["consumer"].text: r for r in healed.rows()}
    assert {n: r["result"].text for n, r in done.items()} == {
        "alpha": "healed", "beta": "healed", "gamma": "held",
    }
    assert done["alpha"]["change"].text == head(bares["alpha"])[:12]

    heads = {name: head(bare) for name, bare in bares.items()}
    code, out, err = run(capsys, "drift", "--consumers", str(listing), "--fix", "--allow-held")
    assert code == 0, out + err
    assert [cells(out, n)[1] for n in ("alpha", "beta", "gamma", "delta")] == [
        "current", "current", "held", "current"
    ]
    assert {name: head(bare) for name, bare in bares.items()} == heads
    assert repo_bytes(bares["gamma"]) == gamma_before


def test_drift_fix_max_heals_in_list_order_and_leaves_the_rest_lagging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: PackageIndex
) -> None:
    listing, bares = lagging_fleet(tmp_path)
    code, out, err = run(
        capsys, "drift", "--consumers", str(listing), "--index-url", index.simple_url,
        "--fix", "--max", "1", "--json",
    )
    assert code == 1, err  # beta still lags
    report = json.loads(out)
    assert report["exit_code"] == 1
    assert [(r["consumer"], r["result"]) for r in report["heal"]["rows"]] == [
        ("alpha", "healed"), ("beta", "lagging"), ("gamma", "held"),
    ]
    assert report["heal"]["rows"][1]["reason"] == "not attempted: --max 1 reached"
    assert show(bares["alpha"], ".runtime-version") == b"0.3.0\n"
    assert b">=0.2.0" in show(bares["beta"], "requirements.txt")


def test_drift_without_fix_reports_held_and_skipped_apart_from_lagging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: PackageIndex
) -> None:
    needs = make_consumer(tmp_path, "needs", {**TEMPLATE, "runtime-needs.toml": NEEDS_UNMET})
    ci_only = make_consumer(
        tmp_path, "ci-only", {".github/workflows/ci.yml": "on: push\n", "requirements.txt": ""}
    )
    listing = write_list(
        tmp_path, [{"name": "needs", "url": str(needs)}, {"name": "ci-only", "url": str(ci_only)}]
    )
    argv = ("drift", "--consumers", str(listing), "--index-url", index.simple_url)
    code, out, err = run(capsys, *argv)
    assert code == 3, err
    assert cells(out, "needs")[1:3] == ["held", "0.2.0"]
    assert cells(out, "ci-only")[1] == "skipped"
    assert "not cascaded: no release workflow (publish-image.yml)" in row_of(out, "ci-only")
    assert "drift against 0.3.0: 0 lagging, 1 held" in err
    assert run(capsys, *argv, "--allow-held")[0] == 0


def test_max_without_fix_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: PackageIndex
) -> None:
    listing = write_list(tmp_path, [{"name": "a", "url": str(make_consumer(tmp_path, "a"))}])
    code, _, err = run(
        capsys, "drift", "--consumers", str(listing), "--index-url", index.simple_url,
        "--max", "2",
    )
    assert code == 2
    assert "error: --max limits --fix; pass --fix too" in err


def test_invoke_drift_fix_passes_fix_and_max_through(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index: PackageIndex,
) -> None:
    from tooling.release.commands import run_drift

    listing, bares = lagging_fleet(tmp_path)
    monkeypatch.setenv("RUNTIME_INDEX_URL", index.simple_url)
    code = run_drift(
        org=None, consumers=str(listing), jobs=None, json_output=True, fix=True, max_count=1
    )
    report = json.loads(capsys.readouterr().out)
    assert code == report["exit_code"] == 1
    assert [r["result"] for r in report["heal"]["rows"]] == ["healed", "lagging", "held"]
    assert show(bares["alpha"], ".runtime-version") == b"0.3.0\n"
