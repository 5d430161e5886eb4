"""CHANGELOG.md sections written from the commits (tooling/versioning/changelog.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import helpers
import pytest

from tooling.errors import ToolingError
from tooling.versioning.changelog import (
    DEFAULT_HEADER,
    has_section,
    insert_section,
    render_section,
    section_commits,
    update_changelog,
)
from tooling.versioning.decision import plan_version
from tooling.versioning.history import commits_since, parse_commit

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.versioning.history import Commit

EXISTING = """# Changelog

Hand-written intro that must survive.

## 1.2.3 (2024-01-02)

### Fixes

- an  oddly   spaced entry (abc1234)

## 1.2.2

Old text.
"""


def commit(n: int, message: str) -> Commit:
    return parse_commit(f"{n:040x}", message)


MIXED = [
    commit(1, "fix(net): retry on reset"),
    commit(2, "docs: explain retries"),
    commit(3, "feat(tools): add search"),
    commit(4, "perf: cache peers"),
    commit(5, "feat(api)!: drop run_sync"),
    commit(6, "refactor: loader\n\nBREAKING CHANGE: load() takes a Path\nnow"),
    commit(7, "feat: secret thing [skip-release]"),
    commit(8, "fix: plain"),
]


def test_section_lists_breaking_then_features_then_fixes_then_performance() -> None:
    text = render_section("2.0.0", MIXED, date="2024-05-06")
    assert text.startswith("## 2.0.0 (2024-05-06)\n")
    order = [text.index(h) for h in ("### Breaking changes", "### Features", "### Fixes",
                                     "### Performance")]  # fmt: skip
    assert order == sorted(order)
    assert f"- **api:** drop run_sync ({MIXED[4].short})" in text
    assert f"- loader ({MIXED[5].short})\n  - load() takes a Path now" in text
    assert f"- **tools:** add search ({MIXED[2].short})" in text
    assert f"- **net:** retry on reset ({MIXED[0].short})" in text
    assert f"- plain ({MIXED[7].short})" in text
    assert f"- cache peers ({MIXED[3].short})" in text
    assert "explain retries" not in text
    assert "secret thing" not in text
    # A breaking feature is listed once, under breaking changes.
    assert text.count("drop run_sync") == 1


def test_a_section_without_user_facing_commits_says_so() -> None:
    text = render_section("1.3.0", [commit(1, "docs: x")])
    assert "No user-facing changes." in text


def test_the_new_section_goes_above_existing_ones_which_stay_byte_identical() -> None:
    section = render_section("1.3.0", MIXED[:3], date="2024-05-06")
    out = insert_section(EXISTING, "1.3.0", section)
    head, _, rest = EXISTING.partition("## 1.2.3")
    assert out.startswith(head + section)
    assert out.endswith("## 1.2.3" + rest)
    assert out.index("## 1.3.0") < out.index("## 1.2.3")


def test_inserting_the_same_version_again_changes_nothing() -> None:
    once = insert_section(EXISTING, "1.3.0", render_section("1.3.0", MIXED))
    assert insert_section(once, "1.3.0", render_section("1.3.0", MIXED[:1])) == once
    assert insert_section(EXISTING, "1.2.3", "## 1.2.3\n\nnew\n") == EXISTING


def test_version_matching_is_exact() -> None:
    text = "# C\n\n## 1.3.0rc1\n\nx\n\n## [1.2.0] - 2024\n\ny\n"
    assert has_section(text, "1.3.0rc1")
    assert has_section(text, "1.2.0")
    assert not has_section(text, "1.3.0")
    assert not has_section(text, "1.3.0rc")


def test_headings_inside_code_fences_are_not_sections() -> None:
    text = "# C\n\n```\n## 9.9.9\n```\n\n## 1.0.0\n\nx\n"
    assert not has_section(text, "9.9.9")
    out = insert_section(text, "1.1.0", "## 1.1.0\n\nnew\n")
    assert out.index("## 1.1.0") > out.index("```\n## 9.9.9")


def test_an_unreleased_section_stays_on_top() -> None:
    text = "# C\n\n## [Unreleased]\n\n- pending\n\n## 1.0.0\n\nold\n"
    out = insert_section(text, "1.1.0", "## 1.1.0\n\nnew\n")
    assert out == "# C\n\n## [Unreleased]\n\n- pending\n\n## 1.1.0\n\nnew\n\n## 1.0.0\n\nold\n"


def test_a_header_only_file_gets_its_first_section_below_the_header() -> None:
    out = insert_section("# Changelog\n\nIntro.\n", "0.1.0", "## 0.1.0\n\nx\n")
    assert out == "# Changelog\n\nIntro.\n\n## 0.1.0\n\nx\n"


def test_crlf_files_keep_crlf() -> None:
    text = EXISTING.replace("\n", "\r\n")
    out = insert_section(text, "1.3.0", "## 1.3.0\n\nnew\n")
    assert "\r\n## 1.3.0\r\n\r\nnew\r\n\r\n## 1.2.3" in out
    assert "\n" not in out.replace("\r\n", "")


def test_update_creates_then_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "CHANGELOG.md"
    assert update_changelog(path, "0.4.0", MIXED, date="2024-05-06")
    first = path.read_bytes()
    assert first.decode().startswith(DEFAULT_HEADER + "\n## 0.4.0 (2024-05-06)\n")
    assert not update_changelog(path, "0.4.0", MIXED[:1], date="2024-05-07")
    assert path.read_bytes() == first
    assert update_changelog(path, "0.5.0", MIXED[:1])
    assert path.read_text().endswith(first.decode()[len(DEFAULT_HEADER) + 1 :])
    assert [p.name for p in tmp_path.iterdir()] == ["CHANGELOG.md"]


def test_an_invalid_version_gets_no_section() -> None:
    with pytest.raises(ToolingError, match=r"changelog version: 'v1\.0\.0'"):
        render_section("v1.0.0", MIXED)


def test_a_final_after_prereleases_lists_everything_since_the_last_final(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "repo")
    helpers.git(repo, "tag", "runtime-v1.2.3")
    helpers.commit(repo, "feat: in rc1")
    helpers.git(repo, "tag", "runtime-v1.3.0rc1")
    helpers.commit(repo, "fix: in rc2")
    tag = "runtime-v1.3.0rc1"
    plan = plan_version("1.3.0rc1", commits_since(repo, tag), since=tag)
    assert plan.next == "1.3.0"
    listed = section_commits(repo, "runtime-v", plan)
    assert [c.subject for c in listed] == ["feat: in rc1", "fix: in rc2"]
    rc = plan_version("1.3.0rc1", commits_since(repo, tag), since=tag, prerelease="rc")
    assert [c.subject for c in section_commits(repo, "runtime-v", rc)] == ["fix: in rc2"]


def test_the_command_writes_the_planned_section(tmp_path: Path) -> None:
    repo = helpers.init_repo(tmp_path / "proj", files={
        "pyproject.toml": '[project]\nname = "demo"\nversion = "0.3.0"\n\n'
                          '[tool.runtime-build]\nsource = "workspace"\n',
        "workspace/a.py": "",
        "CHANGELOG.md": EXISTING,
    })  # fmt: skip
    helpers.git(repo, "tag", "runtime-v0.3.0")
    helpers.commit(repo, "feat(x): shiny", {"workspace/a.py": "A = 1\n"})
    argv = [sys.executable, "-m", "tooling.versioning.changelog", "--root", str(repo), "--write"]
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          cwd=helpers.REPO_ROOT, env={**os.environ, **env})  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (repo / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n\nHand-written intro that must survive.\n\n"
                           "## 0.4.0 (2023-11-14)\n\n### Features\n\n- **x:** shiny (")  # fmt: skip
    assert text.endswith(EXISTING[EXISTING.index("## 1.2.3") :])
