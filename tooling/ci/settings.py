"""What the workflow definition takes from the project: the `Settings` and how they are read.

The tag prefix, the supported Pythons (from the classifiers), the file prefix, the CI paths
filter, the oldest Gitea to support and the release-on-merge switch (docs/ci.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tooling.config import load_config
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from tooling.ci.yaml_model import Forge
    from tooling.config import Config

__all__ = [
    "FORGES",
    "LEGACY_BEFORE",
    "PIPELINE_PATHS",
    "WORKFLOW_DIRS",
    "Settings",
    "ci_paths",
    "parse_gitea_version",
    "settings_from_config",
    "settings_from_project",
]

FORGES: tuple[Forge, ...] = ("github", "gitea")
WORKFLOW_DIRS: Mapping[Forge, PurePosixPath] = {
    "github": PurePosixPath(".github/workflows"),
    "gitea": PurePosixPath(".gitea/workflows"),
}


@dataclass(frozen=True)
class Settings:
    """What the definition takes from the project's configuration."""

    tag_prefix: str
    """Release tags are `tag_prefix + version`; the release workflow triggers on `tag_prefix*`."""
    pythons: tuple[str, ...]
    """The Python versions the runtime supports (its classifiers): the build+smoke matrix."""
    prefix: str = ""
    """File-name prefix of every generated file (`[tool.runtime-build.workflows] prefix`)."""
    paths: tuple[str, ...] = ()
    """The `paths:` filter of the CI triggers: the runtime's paths and the pipeline's own
    (empty: no filter)."""
    gitea_version: tuple[int, int] | None = None
    """The oldest Gitea the `.gitea/` files must work on (None: a current one)."""

    release_on_merge: bool = False
    """`release-on-merge`: the release workflow also runs on pushes to `release_branch`."""
    release_branch: str = "main"
    """The branch releases are cut from (`release-branch`)."""
    runtime_paths: tuple[str, ...] = ()
    """Root-relative globs the runtime is made from: the on-merge trigger's `paths` filter."""

    @property
    def gitea_legacy(self) -> bool:
        """Whether that Gitea ignores `concurrency` and dispatch inputs (before 1.26)."""
        return self.gitea_version is not None and self.gitea_version < LEGACY_BEFORE

    @property
    def default_python(self) -> str:
        """The Python the single-interpreter jobs use: the oldest supported one."""
        return self.pythons[0]



_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)$")
# Gitea 1.26 is the first that honours `concurrency` and `workflow_dispatch` inputs.
LEGACY_BEFORE = (1, 26)
# The pipeline's own files: a change to them runs the runtime's CI too.
PIPELINE_PATHS: tuple[str, ...] = ("tooling/**", "noxfile.py", "tasks.py")


def ci_paths(config: Config) -> tuple[str, ...]:
    """The `paths:` filter of the CI triggers (docs/ci.md).

    The runtime's paths (docs/versions.md), the pipeline's own files and the generated
    workflows; without a `prefix` the repository is the pipeline's own, so `tests/**` too.
    """
    globs = [*config.runtime_globs(), *PIPELINE_PATHS]
    if (config.tests is not None and config.tests.is_relative_to(config.root)
            and not config.tests.is_relative_to(config.source)):
        globs.append(f"{config.tests.relative_to(config.root).as_posix()}/**")
    if not config.workflow_prefix:
        globs.append("tests/**")
    globs.extend(f"{d}/{config.workflow_prefix}*" for d in WORKFLOW_DIRS.values())
    return tuple(dict.fromkeys(globs))


def parse_gitea_version(text: str) -> tuple[int, int] | None:
    """``"1.22"`` (or ``"1.22.6"``) as ``(1, 22)``; None for ``""``."""
    if not text:
        return None
    parts = [int(p) for p in text.split(".")[:2]]
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def settings_from_project(root: Path) -> Settings:
    """Read the tag prefix, Pythons, file prefix, paths and Gitea version from pyproject.toml."""
    return settings_from_config(load_config(root))


def settings_from_config(config: Config) -> Settings:
    """The definition's settings from an already-read configuration."""
    classifiers = config.project.get("classifiers", [])
    found = sorted(
        {m[1] for c in classifiers if isinstance(c, str) and (m := _CLASSIFIER.match(c))}
        if isinstance(classifiers, list)
        else set(),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    if not found:
        raise ToolingError(
            f"{config.pyproject} [project] classifiers: no `Programming Language :: Python :: 3.X`;"
            " add one per supported Python (they make the CI matrix)",
            path=config.pyproject,
        )
    return Settings(tag_prefix=config.tag_prefix, pythons=tuple(found),
                    prefix=config.workflow_prefix, paths=ci_paths(config),
                    gitea_version=parse_gitea_version(config.gitea_version),
                    release_on_merge=config.release_on_merge,
                    release_branch=config.release_branch,
                    runtime_paths=config.runtime_globs())

