from __future__ import annotations

import pytest

from skill_loader import SkillError, load_skills


def _skill(root, name, front, body="Do the thing.", tool=None):
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "SKILL.md").write_text(f"---\n{front}\n---\n{body}\n")
    if tool is not None:
        (directory / "tool.py").write_text(tool)
    return directory


def test_skills_load_with_front_matter_and_an_optional_tool(tmp_path):
    _skill(
        tmp_path,
        "reverse",
        "name: reverse\ndescription: Reverse text.\ntags: [text]",
        tool="def run(text):\n    return text[::-1]\n",
    )
    _skill(tmp_path, "plain", "description: Just instructions.")
    (tmp_path / "not-a-skill").mkdir()
    skills = {s.name: s for s in load_skills(tmp_path)}
    assert set(skills) == {"reverse", "plain"}
    assert skills["reverse"].tool("abc") == "cba"
    assert skills["reverse"].card() == {
        "id": "reverse",
        "name": "reverse",
        "description": "Reverse text.",
        "tags": ["text"],
    }
    assert skills["plain"].tool is None
    assert skills["plain"].instructions == "Do the thing."


@pytest.mark.parametrize(
    ("front", "tool", "message"),
    [
        ("name: x", None, "description is required"),
        ("name: Bad Name\ndescription: d", None, "must be lower case"),
        ("description: [unclosed", None, "invalid front matter"),
        ("description: d", "x = 1\n", "must define run"),
        ("description: d", "raise ImportError('nope')\n", "failed to load: ImportError: nope"),
    ],
)
def test_malformed_skills_name_the_file(tmp_path, front, tool, message):
    directory = _skill(tmp_path, "s", front, tool=tool)
    with pytest.raises(SkillError, match=message) as info:
        load_skills(tmp_path)
    assert str(directory) in str(info.value)


def test_two_skills_with_one_name_are_refused(tmp_path):
    _skill(tmp_path, "a", "name: same\ndescription: d")
    _skill(tmp_path, "b", "name: same\ndescription: d")
    with pytest.raises(SkillError, match="already used"):
        load_skills(tmp_path)


def test_missing_skills_dir_is_a_config_level_error(tmp_path):
    with pytest.raises(SkillError, match=r"^skills_dir: .* is not a directory"):
        load_skills(tmp_path / "absent")
