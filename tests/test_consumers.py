"""consumers.toml: the one list, parsed with defaults merged and one-line errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import REPO_ROOT

from tooling.cascade.consumers import load_consumers, needs_token, parse_consumers
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from tooling.cascade.consumers import ConsumerList


def parse(text: str, where: Path = Path("/srv/list/consumers.toml")) -> ConsumerList:
    return parse_consumers(textwrap.dedent(text), where)


def test_the_repository_list_parses_with_defaults_merged() -> None:
    listed = load_consumers(REPO_ROOT / "consumers.toml")
    names = [c.name for c in listed.consumers]
    assert names == ["claude-code", "langgraph", "hermes", "codex"]
    first = listed.consumers[0]
    assert (first.branch, first.mode, first.pin_file) == ("main", "push", ".runtime-version")
    assert first.requirements == ("requirements.txt",)
    assert first.forge == "gitea"
    assert first.api_url == "https://git.example.org/api/v1"
    assert first.repository == "molecule-ai/molecule-ai-workspace-template-claude-code"
    lines = (REPO_ROOT / "consumers.toml").read_text().splitlines()
    assert first.line is not None
    assert lines[first.line - 1] == "[[consumer]]"  # annotations point at the entry


def test_a_consumer_overrides_defaults_and_exempt_ones_are_not_active() -> None:
    listed = parse(
        """
        [defaults]
        branch = "trunk"
        requirements = ["requirements.txt", "docker/requirements.txt"]

        [[consumer]]
        name = "a"
        url = "https://github.com/Molecule-AI/template-a.git"
        branch = "main"
        mode = "pr"

        [[consumer]]
        name = "b"
        url = "../git/b.git"
        exempt = true
        """
    )
    a, b = listed.consumers
    assert (a.branch, a.mode, a.forge, a.api_url) == (
        "main",
        "pr",
        "github",
        "https://api.github.com",
    )
    assert a.repository == "Molecule-AI/template-a"
    assert b.branch == "trunk"
    assert b.requirements == ("requirements.txt", "docker/requirements.txt")
    assert b.url == str(Path("/srv/git/b.git").resolve())
    assert listed.active == (a,)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'name = "a"\nurl = "x.git"\npin_file = "v"',
            "consumer 'a': unknown key `pin_file`; did you mean `pin-file`?",
        ),
        (
            'name = "a"\nurl = "x.git"\nmode = "puhs"',
            "consumer 'a': `mode` 'puhs' must be one of push, pr, dispatch",
        ),
        ('name = "a"', "consumer 'a': `url` must be a non-empty string"),
        (
            'name = "a"\nurl = "x.git"\nexempt = "yes"',
            "consumer 'a': `exempt` must be true or false",
        ),
        (
            'name = "a"\nurl = "x.git"\npin-file = "../v"',
            "consumer 'a': `pin-file` '../v' must be a file path",
        ),
        (
            'name = "a"\nurl = "x.git"\nbranch = "a..b"',
            "consumer 'a': `branch` 'a..b' is not a valid branch name",
        ),
        (
            'name = "a"\nurl = "file:///srv/a.git"\nmode = "pr"',
            "consumer 'a': `api-url` is required for mode 'pr'",
        ),
        ('url = "x.git"', "consumer #1: `name` must be a non-empty string"),
        (
            'name = "a"\nurl = "x.git"\nrelese-workflow = ["publish-image.yml"]',
            "consumer 'a': unknown key `relese-workflow`; did you mean `release-workflow`?",
        ),
        (
            'name = "a"\nurl = "x.git"\npin-file = "requirements.txt"',
            "consumer 'a': `pin-file` 'requirements.txt' is also listed in `requirements`",
        ),
        (
            'name = "a"\nurl = "x.git"\npin-file = true',
            "consumer 'a': `pin-file` must be a repository-relative path, or false for none",
        ),
        (
            'name = "a"\nurl = "ht!tp://git.example.org/o/a.git"',
            "consumer 'a': `url` 'ht!tp://git.example.org/o/a.git' is not a valid URL",
        ),
        (
            'name = "a"\nurl = "https://git.example.org:port/o/a.git"',
            "consumer 'a': `url` 'https://git.example.org:port/o/a.git' is not a valid URL",
        ),
        (
            'name = "a"\nurl = "https://git.example.org/o/a.git?ref=main"',
            "consumer 'a': `url` 'https://git.example.org/o/a.git?ref=main' must be a clone URL",
        ),
        (
            'name = "a"\nurl = "git@git.example.org:o/a.git"\nmode = "dispatch"',
            "consumer 'a': `api-url` is required for mode 'dispatch'",
        ),
        (
            'name = "a"\nurl = "x.git"\nmode = "pr"\napi-url = "ht!tp://forge/api/v1"',
            "consumer 'a': `api-url` must be an http(s) URL",
        ),
        (
            'name = "a"\nurl = "x.git"\nrelease-workflow = "*"',
            "consumer 'a': `release-workflow` '*' must be a workflow file name ending in .yml",
        ),
        (
            'name = "a"\nurl = "x.git"\nrelease-workflow = ["publish-*.yml"]',
            "`release-workflow` 'publish-*.yml' must name the release workflow file",
        ),
        (
            'name = "a"\nurl = "x.git"\nauthor = "bot"',
            'consumer \'a\': `author` must be "Name <email>"',
        ),
    ],
)
def test_each_problem_is_one_line_naming_file_consumer_and_field(body: str, expected: str) -> None:
    with pytest.raises(ToolingError) as error:
        parse(f"[[consumer]]\n{body}\n")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("/srv/list/consumers.toml: ")
    assert expected in message
    assert error.value.line == 1


def test_a_token_in_a_url_is_refused_without_echoing_it(sentinel: str) -> None:
    with pytest.raises(ToolingError) as error:
        parse(f'[[consumer]]\nname = "a"\nurl = "https://bot:{sentinel}@git.example.org/o/a.git"\n')
    assert "CASCADE_TOKEN supplies it" in str(error.value)
    assert sentinel not in str(error.value)


def test_duplicate_names_are_refused_with_both_positions() -> None:
    with pytest.raises(ToolingError, match=r"'a' is listed twice \(#1 and #2\)") as error:
        parse('[[consumer]]\nname = "a"\nurl = "x"\n\n[[consumer]]\nname = "a"\nurl = "y"\n')
    assert error.value.line == 5


def test_invalid_toml_and_empty_list_and_missing_file_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ToolingError, match="invalid TOML"):
        parse("[[consumer]\n")
    with pytest.raises(ToolingError, match=r"no \[\[consumer\]\] entries"):
        parse("[defaults]\nbranch = 'main'\n")
    with pytest.raises(ToolingError, match="not found; pass --consumers PATH"):
        load_consumers(tmp_path / "nope.toml")


def test_only_http_remotes_need_a_token() -> None:
    assert needs_token("https://git.example.org/o/a.git")
    assert needs_token("HTTP://git.example.org/o/a.git")
    assert not needs_token("file:///srv/a.git")
    assert not needs_token("/srv/a.git")
    assert not needs_token("git@git.example.org:o/a.git")
    assert not needs_token("ssh://git@git.example.org/o/a.git")


def test_an_unknown_key_in_defaults_is_refused_with_the_closest_name() -> None:
    with pytest.raises(ToolingError) as error:
        parse('[defaults]\nrequirments = ["r.txt"]\n\n[[consumer]]\nname = "a"\nurl = "x"\n')
    assert str(error.value) == (
        "/srv/list/consumers.toml [defaults]: unknown key `requirments`; "
        "did you mean `requirements`?"
    )


def test_real_consumer_shapes_parse() -> None:
    listed = parse(
        """
        [defaults]
        author = "Runtime Bot <runtime-bot@example.org>"

        [[consumer]]
        name = "langgraph"
        url = "https://git.example.org/molecule-ai/langgraph.git"
        pin-file = false

        [[consumer]]
        name = "codex"
        url = "https://git.example.org/molecule-ai/codex.git"
        release-workflow = ["publish-image.yml", "release.yaml"]
        """
    )
    langgraph, codex = listed.consumers
    assert (langgraph.pin_file, langgraph.requirements) == (None, ("requirements.txt",))
    assert langgraph.release_workflow == ("publish-image.yml",)
    assert codex.release_workflow == ("publish-image.yml", "release.yaml")
    assert codex.author == ("Runtime Bot", "runtime-bot@example.org")


def test_an_unknown_table_is_refused_with_the_closest_name() -> None:
    with pytest.raises(ToolingError) as error:
        parse('[default]\nbranch = "main"\n\n[[consumer]]\nname = "a"\nurl = "x"\n')
    assert str(error.value) == (
        "/srv/list/consumers.toml: unknown key `default`; did you mean `defaults`?"
    )
