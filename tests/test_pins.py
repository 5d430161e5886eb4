"""What a consumer's pin file and requirement lines become: exact bytes, nothing else moved."""

from __future__ import annotations

import pytest

from tooling.cascade.pins import (
    bump_requirements,
    is_lone_version,
    not_a_file,
    pin_text,
    plan_bump,
    read_pin,
    requirement_version,
    workflow_skip,
)
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


PUBLISH = (".gitea/workflows/publish-image.yml",)
NAMES = ("publish-image.yml",)


def test_a_pin_with_more_than_a_version_line_is_never_overwritten() -> None:
    junk = b"0.1.1000\n# fire-publish-image-1778872861\n"
    assert read_pin(junk) == "0.1.1000"
    plan = plan_bump(
        workflows=PUBLISH, pin=junk, requirements={}, pin_file=".runtime-version",
        release_workflows=NAMES, version="0.3.0",
    )
    assert plan.skip is None
    assert plan.files == {}
    assert plan.refuse is not None
    assert "holds more than a version line (first line: '0.1.1000')" in plan.refuse


def test_a_pin_with_more_than_a_version_that_already_states_it_is_left_as_it_is() -> None:
    plan = plan_bump(
        workflows=PUBLISH, pin=b"0.3.0\n# pinned by hand\n",
        requirements={"requirements.txt": b"molecule-ai-workspace-runtime>=0.2.0\n"},
        pin_file=".runtime-version", release_workflows=NAMES, version="0.3.0",
    )
    assert plan.refuse is None
    assert plan.files == {"requirements.txt": b"molecule-ai-workspace-runtime>=0.3.0\n"}


@pytest.mark.parametrize("pin", [b"0.1.0\n", b"0.1.0", b"\xef\xbb\xbf0.1.0\r\n", b"", b" 0.1.0 \n"])
def test_a_lone_version_line_or_an_empty_pin_is_rewritten_to_exactly_the_version(
    pin: bytes,
) -> None:
    assert is_lone_version(pin)
    plan = plan_bump(
        workflows=PUBLISH, pin=pin, requirements={}, pin_file=".runtime-version",
        release_workflows=NAMES, version="0.3.0",
    )
    assert (plan.refuse, plan.files) == (None, {".runtime-version": b"0.3.0\n"})


@pytest.mark.parametrize("pin", [b"latest\n", b"0.1.0\n0.2.0\n", b"\xff\n"])
def test_anything_else_is_not_a_lone_version_line(pin: bytes) -> None:
    assert not is_lone_version(pin)


def test_an_absent_pin_file_is_created_when_a_release_workflow_exists() -> None:
    plan = plan_bump(
        workflows=PUBLISH, pin=None, requirements={"requirements.txt": None},
        pin_file=".runtime-version", release_workflows=NAMES, version="0.3.0",
    )
    assert (plan.skip, plan.refuse, plan.previous) == (None, None, None)
    assert plan.files == {".runtime-version": b"0.3.0\n"}


@pytest.mark.parametrize("kind", ["symlink", "directory", "submodule"])
def test_a_pin_path_that_is_no_regular_file_is_named_and_not_written(kind: str) -> None:
    plan = plan_bump(
        workflows=PUBLISH, pin=None, pin_kind=kind, requirements={},
        pin_file=".runtime-version", release_workflows=NAMES, version="0.3.0",
    )
    assert plan.files == {}
    assert plan.refuse == f"{not_a_file('.runtime-version', kind)} (not written)"
    assert f"pin path .runtime-version is a {kind}, not a regular file" in plan.refuse


def test_a_requirements_only_consumer_reads_and_bumps_its_requirement_lines() -> None:
    requirements = b"a2a-sdk>=0.2\nmolecule-ai-workspace-runtime>=0.1.0\n"
    assert requirement_version(requirements) == "0.1.0"
    plan = plan_bump(
        workflows=PUBLISH, pin=None, requirements={"requirements.txt": requirements},
        pin_file=None, release_workflows=NAMES, version="0.3.0",
    )
    assert plan.previous == "0.1.0"
    assert plan.files == {
        "requirements.txt": b"a2a-sdk>=0.2\nmolecule-ai-workspace-runtime>=0.3.0\n"
    }
    again = plan_bump(
        workflows=PUBLISH, pin=None, requirements=dict(plan.files), pin_file=None,
        release_workflows=NAMES, version="0.3.0",
    )
    assert (again.previous, again.files, again.refuse) == ("0.3.0", {}, None)


def test_a_requirements_only_consumer_without_a_runtime_line_is_refused() -> None:
    plan = plan_bump(
        workflows=PUBLISH, pin=None, requirements={"requirements.txt": b"httpx\n"},
        pin_file=None, release_workflows=NAMES, version="0.3.0",
    )
    assert plan.refuse is not None
    assert "no line of requirements.txt pins molecule-ai-workspace-runtime" in plan.refuse


def test_a_pin_already_exact_plans_no_change() -> None:
    plan = plan_bump(
        workflows=(".github/workflows/publish-image.yml",),
        pin=b"0.3.0\n",
        requirements={"requirements.txt": AFTER, "missing.txt": None},
        pin_file=".runtime-version",
        release_workflows=NAMES,
        version="0.3.0",
    )
    assert plan.files == {}


def test_either_workflow_directory_counts_and_only_the_named_files() -> None:
    assert workflow_skip((".gitea/workflows/publish-image.yml",), NAMES) is None
    assert workflow_skip((".github/workflows/publish-image.yml",), NAMES) is None
    assert workflow_skip((".github/workflows/release.yaml",), ("release.yaml",)) is None
    ci_only = workflow_skip((".github/workflows/ci.yml",), NAMES)
    assert ci_only == (
        "no release workflow (publish-image.yml) in .github/workflows/ or .gitea/workflows/"
    )
    assert "no release workflow" in str(workflow_skip((), NAMES))
