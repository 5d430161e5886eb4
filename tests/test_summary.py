"""The CI job summary: sections appended in one write, parsed back as Markdown."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

from tooling.summary import append_section, cell, link, markdown_table, section, table_section

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from markdown_it.token import Token


@dataclass
class Cell:
    """One table cell as a reader sees it: its text and the links in it."""

    text: str
    links: list[str] = field(default_factory=list)


@dataclass
class Section:
    """One `###` section of a summary: its title, paragraphs and tables."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[list[list[Cell]]] = field(default_factory=list)

    def rows(self, table: int = 0) -> list[dict[str, Cell]]:
        """The rows of a table as header -> cell."""
        head, *body = self.tables[table]
        return [dict(zip([h.text for h in head], row, strict=True)) for row in body]


def _inline(token: Token) -> Cell:
    texts: list[str] = []
    links: list[str] = []
    for child in token.children or []:
        if child.type == "link_open":
            links.append(str(child.attrs["href"]))
        elif child.type in {"text", "code_inline"}:
            texts.append(child.content)
    return Cell("".join(texts), links)


def parse_summary(text: str) -> list[Section]:
    """Parse a job summary with a CommonMark + GFM-table parser, as the summary page does."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    sections: list[Section] = []
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else token
        if token.type == "heading_open" and token.tag == "h3":
            sections.append(Section(after.content))
        elif token.type == "paragraph_open":
            sections[-1].paragraphs.append(_inline(after).text)
        elif token.type == "table_open":
            sections[-1].tables.append([])
        elif token.type == "tr_open":
            sections[-1].tables[-1].append([])
        elif token.type == "inline" and tokens[index - 1].type in {"th_open", "td_open"}:
            sections[-1].tables[-1][-1].append(_inline(token))
    return sections


def read_summary(path: Path) -> list[Section]:
    """Parse the summary file a command appended to."""
    return parse_summary(path.read_text(encoding="utf-8"))


def test_without_the_variable_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert append_section(section("cascade", "x")) is None
    assert list(tmp_path.iterdir()) == []


def test_a_section_parses_back_with_its_cells_escaped_and_links_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sentinel: str
) -> None:
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    from tooling.secrets import register_secret

    register_secret(sentinel)
    rows = [
        (link("claude-code", "https://forge.example/o/claude-code"), cell("a | b\nc")),
        (link("local", "file:///srv/x.git"), cell(f"token {sentinel} <b>")),
    ]
    assert append_section(section("cascade 1.0.0", "**2** updated", markdown_table(
        ("consumer", "reason"), rows))) == target
    parsed = read_summary(target)
    assert [s.title for s in parsed] == ["cascade 1.0.0"]
    first, second = parsed[0].rows()
    assert first["consumer"].links == ["https://forge.example/o/claude-code"]
    assert first["reason"].text == "a | b c"
    assert second["consumer"].links == []  # only http(s) addresses become links
    assert sentinel not in target.read_text(encoding="utf-8")
    assert second["reason"].text.endswith("<b>")


def test_sections_from_parallel_writers_never_interleave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    body = [(str(n), "x" * 200) for n in range(200)]

    def write(name: str) -> None:
        append_section(table_section(name, ("n", "text"), body))

    threads = [threading.Thread(target=write, args=(f"writer {i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parsed = read_summary(target)
    assert sorted(s.title for s in parsed) == sorted(f"writer {i}" for i in range(8))
    assert all(len(s.rows()) == 200 for s in parsed)
    assert target.stat().st_size > 8 * 200 * 200


def test_api_diff_appends_its_markdown_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import init_repo
    from test_apidiff import SMALL

    from tooling.api.diff import main

    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    init_repo(tmp_path / "repo", SMALL)
    assert main(["--root", str(tmp_path / "repo")]) == 0
    capsys.readouterr()
    (diff,) = read_summary(target)
    assert "Required bump: minor" in diff.paragraphs[0]
    assert {r["path"].text for r in diff.rows()} == {"tinyrt", "tinyrt.mod"}


def test_release_appends_its_files_linked_to_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tooling.release.context import ReleaseOptions
    from tooling.release.journal import Journal
    from tooling.release.report import report_release

    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    journal = Journal.create(tmp_path, "0.3.0", "runtime-v0.3.0", {})
    wheel = "molecule_ai_workspace_runtime-0.3.0-py3-none-any.whl"
    journal.begin("read-back")
    journal.finish("read-back", {"files": [
        {"filename": wheel, "sha256": "ab" * 32,
         "url": f"https://pypi.example/packages/{wheel}"},
    ]})
    options = ReleaseOptions(
        dry_run=False, bump=None, prerelease=None, yes=True, json_output=False,
        consumers="consumers.toml", jobs=None,
    )
    report_release(journal, {}, options)
    capsys.readouterr()
    (released,) = read_summary(target)
    assert released.title == "release 0.3.0 (runtime-v0.3.0)"
    (row,) = released.rows()
    assert row["file"].links == [f"https://pypi.example/packages/{wheel}"]
    assert row["sha256"].text == "ab" * 32


def test_commit_links_point_at_the_forge_web_page_of_http_remotes_only() -> None:
    from tooling.cascade.summaries import commit_url, web_url

    url = "https://git.example.org/molecule-ai/template-codex.git"
    assert web_url(url) == "https://git.example.org/molecule-ai/template-codex"
    assert commit_url(url, "abc123") == (
        "https://git.example.org/molecule-ai/template-codex/commit/abc123"
    )
    assert commit_url("file:///srv/git/codex.git", "abc123") is None
    assert commit_url("git@git.example.org:o/codex.git", "abc123") is None
    assert commit_url(url, None) is None
