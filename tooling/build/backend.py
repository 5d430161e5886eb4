"""The in-tree PEP 517 backend: stage + rewrite, then let flit_core build the staged project.

Named in the root pyproject.toml (``build-backend = "tooling.build.backend"``, ``backend-path =
["."]``), so ``python -m build``, ``pip install .`` and ``pip install git+URL`` at the root
all build the namespaced package, never the bare-import tree (the contract: no build path may
ship a bare workspace import).  The root sdist *is* the staged project, whose own
pyproject names flit_core: a wheel built from it needs none of this.

Only the standard library and the ``[build-system] requires`` (flit_core, libcst, tomlkit,
packaging) may be imported here: a frontend runs this in an isolated environment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from flit_core import buildapi  # type: ignore[import-untyped]

from tooling.build.messages import relocated
from tooling.build.stage import source_date_epoch, stage
from tooling.config import load_config
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

EDITABLE_REFUSAL = (
    "{name} cannot be installed editable: {source}/ imports its modules by bare names and only "
    "the staged, rewritten copy is the {package} package. Run `nox -s build` and "
    "`pip install dist/*.whl`, or `nox -s workspace` to work on the source layout."
)
"""Why ``pip install -e .`` is refused: an editable install cannot serve the rewritten tree."""


@contextlib.contextmanager
def _staged_project() -> Iterator[Path]:
    """Stage the project found at the working directory into a temp dir; chdir there."""
    # Frontends call every hook with the source tree as the working directory (PEP 517).
    config = load_config(Path.cwd())
    previous = Path.cwd()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    with tempfile.TemporaryDirectory(prefix="molecule-runtime-backend-") as scratch:
        # The scratch folder is gone by the time a frontend shows an error: name the source.
        moves = {Path(scratch) / "stage" / config.package: config.source,
                 Path(scratch) / "stage": config.root}
        try:
            staged = stage(config, Path(scratch) / "stage", cache_dir=Path(scratch) / "cache")
        except ToolingError as exc:
            raise relocated(exc, moves) from exc
        # Same timestamp rule as `nox -s build`, so `python -m build` is reproducible too.
        os.environ["SOURCE_DATE_EPOCH"] = str(source_date_epoch(config.root))
        os.chdir(staged.root)
        try:
            yield staged.root
        except ToolingError as exc:
            raise relocated(exc, moves) from exc
        except Exception as exc:
            detail = relocated(ToolingError(f"{type(exc).__name__}: {exc}"), moves)
            raise ToolingError(f"building the staged project failed: {detail.message}") from exc
        finally:
            os.chdir(previous)
            if epoch is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = epoch


def _absolute(directory: str) -> str:
    # The hooks chdir into the stage, so a relative output directory must be fixed first.
    return os.fspath(Path(directory).resolve())


def get_requires_for_build_wheel(config_settings: Mapping[str, object] | None = None) -> list[str]:
    """Nothing beyond ``[build-system] requires``."""
    del config_settings
    return []


def get_requires_for_build_sdist(config_settings: Mapping[str, object] | None = None) -> list[str]:
    """Nothing beyond ``[build-system] requires``."""
    del config_settings
    return []


def get_requires_for_build_editable(
    config_settings: Mapping[str, object] | None = None,
) -> list[str]:
    """Nothing: `build_editable` refuses before needing anything."""
    del config_settings
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Stage and rewrite, then build the staged project's wheel with flit_core."""
    del config_settings, metadata_directory  # the staged project computes its own metadata
    out = _absolute(wheel_directory)
    with _staged_project():
        return str(buildapi.build_wheel(out))


def build_sdist(sdist_directory: str, config_settings: Mapping[str, object] | None = None) -> str:
    """Stage and rewrite, then pack the staged project (itself buildable by flit_core)."""
    del config_settings
    out = _absolute(sdist_directory)
    with _staged_project():
        return str(buildapi.build_sdist(out))


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Refuse: see `EDITABLE_REFUSAL`."""
    del wheel_directory, config_settings, metadata_directory
    config = load_config(Path.cwd())
    raise RuntimeError(
        EDITABLE_REFUSAL.format(
            name=config.name, source=config.source.name, package=config.package
        )
    )
