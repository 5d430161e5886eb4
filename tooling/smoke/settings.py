"""What the smoke session reads before it runs: its settings, the wheel, the rewritten tests."""

from __future__ import annotations

import re
from collections.abc import Mapping  # noqa: TC003 - a dataclass field's type
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tooling.config import read_pyproject, refuse_unknown_keys
from tooling.errors import ToolingError
from tooling.secrets import register_secret

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSPHRASE|API_?KEY|PRIVATE|CREDENTIAL|AUTH",
                          re.IGNORECASE)

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "SmokeSettings",
    "dependency_group",
    "find_wheel",
    "load_settings",
    "masked_env",
    "secret_looking",
]


@dataclass(frozen=True)
class SmokeSettings:
    """``[tool.runtime-build.smoke]``."""

    script: str | None = None
    """Console script for the version and serve checks (default: the only one, if one)."""
    version_check: bool = True
    """``<script> --version`` must print ``[project] version``."""
    serve_check: bool = False
    """Start ``<script> --config FILE`` with the echo adapter, send one A2A message, SIGTERM."""
    workspace_tests: bool = True
    """Run ``[tool.runtime-build] tests``, rewritten, against the installed wheel."""
    test_group: str = "workspace-test"
    """The ``[dependency-groups]`` group installed for those tests."""
    pytest_args: tuple[str, ...] = ("-q",)
    """Extra pytest arguments."""
    tests_timeout: float = 600.0
    """Seconds the workspace tests may take per Python."""
    deps_check: bool = True
    """Run deptry on the shipped package."""
    pythons: tuple[str, ...] = ()
    """Default restriction (versions or paths); ``--python`` and the env variable override."""
    env: Mapping[str, str] = field(default_factory=dict)
    """``env``: set for every check that runs the runtime (everything else stays cleared)."""
    optional_imports: tuple[str, ...] = ()
    """``optional-imports``: guarded imports that need no declared dependency."""
    tests_must_pass: bool = True
    """``tests-must-pass``: tests failing in both layouts fail the smoke too."""
    source_tests: bool = True
    """``source-tests``: run the tests on the source layout too and compare test by test."""


def _bool(table: Mapping[str, object], key: str, where: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ToolingError(f"{where}: `{key}` must be true or false")
    return value


def load_settings(config: Config) -> SmokeSettings:
    """Read ``[tool.runtime-build.smoke]``; every problem names its key."""
    data = read_pyproject(config.pyproject)
    tool = data.get("tool", {})
    build = tool.get("runtime-build", {}) if isinstance(tool, dict) else {}
    table = build.get("smoke", {}) if isinstance(build, dict) else {}
    where = f"{config.pyproject} [tool.runtime-build.smoke]"
    if not isinstance(table, dict):
        raise ToolingError(f"{where}: must be a table")
    known = frozenset({
        "script", "version-check", "serve-check", "workspace-tests", "test-group",
        "pytest-args", "tests-timeout", "deps-check", "pythons", "env", "optional-imports",
        "tests-must-pass", "source-tests",
    })
    refuse_unknown_keys(table, known, where)
    script = table.get("script")
    if script is None and len(config.scripts) == 1:
        script = next(iter(config.scripts))
    if script is not None and script not in config.scripts:
        raise ToolingError(f"{where}: script {script!r} is not in [project.scripts]")
    args = table.get("pytest-args", ["-q"])
    pythons = table.get("pythons", [])
    for key, value in (("pytest-args", args), ("pythons", pythons)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ToolingError(f"{where}: `{key}` must be a list of strings")
    env, optional = _runtime_env(table, where), _optional_imports(table, where)
    timeout = table.get("tests-timeout", 600)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolingError(f"{where}: `tests-timeout` must be a positive number of seconds")
    return SmokeSettings(
        script=script,
        version_check=_bool(table, "version-check", where, default=script is not None),
        serve_check=_bool(table, "serve-check", where, default=False),
        workspace_tests=_bool(table, "workspace-tests", where, default=True),
        test_group=str(table.get("test-group", "workspace-test")),
        pytest_args=tuple(args),
        tests_timeout=float(timeout),
        deps_check=_bool(table, "deps-check", where, default=True),
        pythons=tuple(pythons),
        env=dict(env),
        optional_imports=tuple(optional),
        tests_must_pass=_bool(table, "tests-must-pass", where, default=True),
        source_tests=_bool(table, "source-tests", where, default=True),
    )


def _runtime_env(table: Mapping[str, object], where: str) -> dict[str, str]:
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise ToolingError(
            f'{where}: `env` must be a table of NAME = "value" strings, such as '
            '{ WORKSPACE_ID = "smoke" }'
        )
    for name, value in env.items():
        if secret_looking(name):
            register_secret(value)
    return {str(k): str(v) for k, v in env.items()}


def _optional_imports(table: Mapping[str, object], where: str) -> list[str]:
    optional = table.get("optional-imports", [])
    if not isinstance(optional, list) or not all(
        isinstance(v, str) and v.isidentifier() for v in optional
    ):
        raise ToolingError(f"{where}: `optional-imports` must be a list of top-level module names")
    return [str(v) for v in optional]


def secret_looking(name: str) -> bool:
    """Whether an environment variable's name says its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def masked_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as reports show it: values of secret-looking names masked."""
    return {k: "****" if secret_looking(k) else v for k, v in sorted(env.items())}


def dependency_group(data: Mapping[str, object], name: str, where: str) -> list[str]:
    """The requirements of ``[dependency-groups] name``, included groups expanded."""
    groups = data.get("dependency-groups", {})
    entries = groups.get(name) if isinstance(groups, dict) else None
    if not isinstance(entries, list):
        raise ToolingError(f"{where} [dependency-groups]: no group {name!r}")
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            out.extend(dependency_group(data, entry["include-group"], where))
    return out


def find_wheel(dist: Path, name: str) -> Path:
    """The one wheel of ``name`` in ``dist``."""
    prefix = name.replace("-", "_").lower() + "-"
    wheels = sorted(p for p in dist.glob("*.whl") if p.name.lower().startswith(prefix))
    if len(wheels) != 1:
        found = "none" if not wheels else ", ".join(p.name for p in wheels)
        raise ToolingError(
            f"{dist}: expected one {name} wheel, found {found}; run `nox -s build` first"
        )
    return wheels[0]
