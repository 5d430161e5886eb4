"""Where the cascade finds a release's compat.json, and when a consumer is held."""

from __future__ import annotations

import json
import zipfile
from typing import TYPE_CHECKING

import pytest
from fleet import WHEEL, compat, write_wheel
from helpers import start_package_index
from test_cascade import VERSION, head, make_consumer, run, write_list

from tooling.cascade.needs import CompatSource, held_reason
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from pathlib import Path


def wheel_speaking(directory: Path, version: str, adapter: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / WHEEL.format(version)
    with zipfile.ZipFile(wheel, "w") as archive:
        data = {**compat(version), "adapter_protocol_version": adapter}
        archive.writestr("molecule_runtime/compat.json", json.dumps(data))
    return wheel


def test_the_wheel_in_dist_wins_over_the_index(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    write_wheel(packages, "0.3.0")  # adapter protocol 2
    wheel_speaking(tmp_path / "dist", "0.3.0", adapter=3)
    wheel_speaking(tmp_path / "dist", "0.2.0", adapter=1)  # another version: ignored
    index = start_package_index(packages)
    try:
        from_dist = CompatSource("0.3.0", dist=tmp_path / "dist", index_url=index.simple_url)
        assert from_dist.get()["adapter_protocol_version"] == 3
        from_index = CompatSource("0.3.0", dist=tmp_path / "nowhere", index_url=index.simple_url)
        assert from_index.get()["adapter_protocol_version"] == 2
    finally:
        index.stop()


def test_a_compat_json_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "compat.json"
    path.write_text(json.dumps(compat("0.2.0")), encoding="utf-8")
    with pytest.raises(ToolingError, match=r"compat.json is for 0.2.0, not 0.3.0"):
        CompatSource("0.3.0", path=path).get()


def test_needs_that_cannot_be_checked_hold_the_consumer(tmp_path: Path) -> None:
    nowhere = CompatSource("0.3.0", dist=tmp_path / "dist", index_url=None)
    reason = held_reason(b'plugin-api = "~=1.1"\n', "runtime-needs.toml", nowhere)
    assert reason is not None
    assert reason.startswith("declares needs in runtime-needs.toml but they cannot be checked")
    assert held_reason(b"", "runtime-needs.toml", nowhere) is None  # declares nothing


def test_a_misspelt_need_fails_with_the_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "compat.json"
    path.write_text(json.dumps(compat("0.3.0")), encoding="utf-8")
    source = CompatSource("0.3.0", path=path)
    with pytest.raises(ToolingError) as error:
        held_reason(b'plugin_api = "~=1.1"\n', "runtime-needs.toml", source)
    assert str(error.value) == (
        "runtime-needs.toml: unknown key `plugin_api`; did you mean `plugin-api`?"
    )


def test_other_compat_fields_are_named_under_fields(tmp_path: Path) -> None:
    path = tmp_path / "compat.json"
    path.write_text(json.dumps({**compat("0.3.0"), "wire_version": 2}), encoding="utf-8")
    source = CompatSource("0.3.0", path=path)
    needs = b'plugin-api = "~=1.1"\n\n[fields]\nwire-version = ">=3"\n'
    assert held_reason(needs, "runtime-needs.toml", source) == (
        "0.3.0 does not meet runtime-needs.toml: wire-version: 2 does not satisfy >=3"
    )


def test_a_wrong_compat_option_stops_the_cascade_before_any_consumer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = make_consumer(tmp_path, "a")
    before = head(bare)
    listing = write_list(tmp_path, [{"name": "a", "url": str(bare)}])
    missing = tmp_path / "nope.json"
    code, _, err = run(
        capsys, "cascade", "--consumers", str(listing), "--version", VERSION,
        "--compat", str(missing),
    )
    assert code == 1
    assert f"error: {missing}: cannot read compat data" in err
    assert head(bare) == before
