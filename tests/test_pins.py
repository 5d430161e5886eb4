"""What a consumer's pin file and requirement lines become: exact bytes, nothing else moved."""

from __future__ import annotations

import pytest

from tooling.cascade.pins import bump_requirements, pin_text, plan_bump, read_pin, workflow_skip
from tooling.errors import ToolingError

BEFORE = (
    b"# runtime and friends\n"
    b"httpx>=0.27  # molecule-ai-workspace-runtime==0.1.0 in a comment stays\n"
    b"molecule-ai-workspace-runtime==0.1.0\n"
    b'Molecule_AI.Workspace-Runtime[otel,cli] >= 0.1.0 ; python_version >= "3.11"  # keep me\n'
    b"molecule_ai_workspace_runtime~=0.1.5\r\n"
    b"molecule-ai-workspace-runtime>=0.1,!=0.2.0\n"
    b"molecule-ai-workspace-runtime\n"
    b"molecule-ai-workspace-runtime-extras==0.1.0\n"
    b"-r base.txt\n"
    b"caf\xe9-not-utf8==1.0\n"
    b"PyYAML>=6"
)
AFTER = (
    b"# runtime and friends\n"
    b"httpx>=0.27  # molecule-ai-workspace-runtime==0.1.0 in a comment stays\n"
    b"molecule-ai-workspace-runtime==0.3.0\n"
    b'Molecule_AI.Workspace-Runtime[otel,cli] >= 0.3.0 ; python_version >= "3.11"  # keep me\n'
    b"molecule_ai_workspace_runtime~=0.3.0\r\n"
    b"molecule-ai-workspace-runtime>=0.3.0,!=0.2.0\n"
    b"molecule-ai-workspace-runtime\n"
    b"molecule-ai-workspace-runtime-extras==0.1.0\n"
    b"-r base.txt\n"
    b"caf\xe9-not-utf8==1.0\n"
    b"PyYAML>=6"
)


def test_requirement_lines_keep_operator_extras_markers_and_every_other_byte() -> None:
    bump = bump_requirements(BEFORE, "0.3.0", path="requirements.txt")
    assert bump.data == AFTER
    assert [c.line for c in bump.changes] == [3, 4, 5, 6]
    assert bump.matched == 4  # the bare name is left alone: it pins nothing


def test_a_second_bump_changes_nothing() -> None:
    bump = bump_requirements(AFTER, "0.3.0", path="requirements.txt")
    assert bump.data == AFTER
    assert bump.changes == ()


def test_a_hash_pinned_line_is_refused_rather_than_breaking_the_hashes() -> None:
    data = b"molecule-ai-workspace-runtime==0.1.0 \\\n    --hash=sha256:abc\n"
    with pytest.raises(ToolingError, match=r"requirements.txt:1: .* is hash-pinned"):
        bump_requirements(data, "0.3.0", path="requirements.txt")


def test_an_upper_bound_that_excludes_the_version_is_refused() -> None:
    data = b"molecule-ai-workspace-runtime>=0.1,<0.2\n"
    with pytest.raises(ToolingError, match=r"requirements.txt:1: .* would exclude 0.3.0"):
        bump_requirements(data, "0.3.0", path="requirements.txt")


def test_an_invalid_version_is_refused_at_pin_write() -> None:
    with pytest.raises(ToolingError, match="not a release version"):
        pin_text("v0.3.0")
    with pytest.raises(ToolingError, match="not a release version"):
        bump_requirements(BEFORE, "0.3", path="requirements.txt")


def test_a_junk_pin_is_rewritten_to_exactly_the_version() -> None:
    junk = b"0.1.1000\n# fire-publish-image-1778872861\n"
    assert read_pin(junk) == "0.1.1000"
    plan = plan_bump(
        workflows=(".gitea/workflows/publish-image.yml",),
        pin=junk,
        requirements={},
        pin_file=".runtime-version",
        release_workflow="*",
        version="0.3.0",
    )
    assert plan.skip is None
    assert plan.previous == "0.1.1000"
    assert plan.files == {".runtime-version": b"0.3.0\n"}


def test_a_pin_already_exact_plans_no_change() -> None:
    plan = plan_bump(
        workflows=(".github/workflows/release.yaml",),
        pin=b"0.3.0\n",
        requirements={"requirements.txt": AFTER, "missing.txt": None},
        pin_file=".runtime-version",
        release_workflow="*",
        version="0.3.0",
    )
    assert plan.files == {}


def test_either_workflow_directory_counts_and_the_glob_narrows_it() -> None:
    assert workflow_skip((".gitea/workflows/publish-image.yml",), "*") is None
    assert workflow_skip((".github/workflows/publish-image.yaml",), "publish-*") is None
    assert "no release workflow" in str(workflow_skip((), "*"))
    assert "matching 'publish-*'" in str(workflow_skip((".github/workflows/ci.yml",), "publish-*"))
    assert "no release workflow" in str(workflow_skip((".github/workflows/notes.txt",), "*"))
