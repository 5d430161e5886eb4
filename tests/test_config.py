"""Settings we own: every table refuses an unknown key with a did-you-mean, naming its table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from helpers import copy_fixture

from tooling.api.compat import compat_constants
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.index import parse_http_url
from tooling.smoke.settings import load_settings

if TYPE_CHECKING:
    from pathlib import Path


def project_with(tmp_path: Path, header: str, line: str) -> Path:
    """The release fixture with ``line`` added under its table ``header`` (made if absent)."""
    root = copy_fixture("release-project", tmp_path / "project")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if f"{header}\n" in text:
        text = text.replace(f"{header}\n", f"{header}\n{line}\n")
    else:
        text += f"\n{header}\n{line}\n"
    pyproject.write_text(text, encoding="utf-8")
    return root


def test_a_typo_in_the_main_table_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    # `exlude` used to be ignored: the wheel shipped everything `exclude` was meant to keep out.
    root = copy_fixture("release-project", tmp_path / "project")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("[tool.runtime-build]\n",
                                      '[tool.runtime-build]\nexlude = ["secret*"]\n'),
                         encoding="utf-8")
    with pytest.raises(ToolingError) as info:
        load_config(root)
    assert "[tool.runtime-build]: unknown key `exlude`; did you mean `exclude`?" in str(info.value)


def test_a_typo_in_the_workflows_table_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    root = project_with(tmp_path, "[tool.runtime-build.workflows]", 'prefx = "rt-"')
    with pytest.raises(ToolingError, match=r"workflows\]: unknown key `prefx`; did you mean "
                                           r"`prefix`\?"):
        load_config(root)


def test_a_typo_in_the_smoke_table_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    root = project_with(tmp_path, "[tool.runtime-build.smoke]", 'python = ["3.11"]')
    with pytest.raises(ToolingError, match=r"smoke\]: unknown key `python`; did you mean "
                                           r"`pythons`\?"):
        load_settings(load_config(root))


def test_a_typo_in_the_compat_table_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    root = project_with(tmp_path, "[tool.runtime-build.compat]", "require = false")
    with pytest.raises(ToolingError, match=r"compat\]: unknown key `require`; did you mean "
                                           r"`required`\?"):
        compat_constants(load_config(root))


def test_an_unknown_key_far_from_any_lists_the_known_ones(tmp_path: Path) -> None:
    root = project_with(tmp_path, "[tool.runtime-build.workflows]", 'zzz = "x"')
    with pytest.raises(ToolingError, match=r"unknown key `zzz`; known keys: gitea-version, "
                                           r"prefix"):
        load_config(root)


@pytest.mark.parametrize(
    "url",
    ["ht!tp://index.example.org/simple/", "index.example.org/simple/", "http://",
     "ftp://index.example.org/simple/", "https://host:99999/simple/", "https://a b/simple/",
     "file:///srv/index/"],
)
def test_a_malformed_url_setting_is_refused_naming_the_setting_not_the_value(url: str) -> None:
    with pytest.raises(ToolingError) as info:
        parse_http_url(url, where="RUNTIME_INDEX_URL")
    assert str(info.value).startswith("RUNTIME_INDEX_URL: ")
    assert url not in str(info.value)  # a URL may carry a token


@pytest.mark.parametrize(
    "url", ["https://pypi.example.org/simple/", "http://127.0.0.1:8080/", " http://h/x "]
)
def test_a_well_formed_url_setting_is_accepted(url: str) -> None:
    assert parse_http_url(url, where="RUNTIME_INDEX_URL") == url.strip()
