"""The functions behind the invoke tasks other than ``release``: tag, publish, cascade...

Most hand their flags to another stage's CLI; ``tag`` and ``publish`` act on pyproject's
version at HEAD.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from tooling.cli import guarded, step
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release.dists import dist_files
from tooling.release.readback import read_back
from tooling.release.repo import preflight
from tooling.release.tagpush import create_tag, push_release
from tooling.release.upload import publish_files

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "refuse_empty",
    "run_cascade",
    "run_compat",
    "run_converge",
    "run_drift",
    "run_publish",
    "run_tag",
    "run_versions",
    "run_workflows",
]


def refuse_empty(flag: str, value: str | None) -> str | None:
    """Return ``value``; None means "not given" (the default applies), ``""`` is refused.

    An explicit empty value is almost always an unset variable (``--version "$VERSION"``):
    taking the default instead would act on a value nobody asked for.
    """
    if value is not None and not value.strip():
        raise ToolingError(
            f"{flag}: an empty value was given; give a value, or leave {flag} out for the default"
        )
    return value


def _opt(flag: str, value: str | int | None) -> list[str]:
    if isinstance(value, str):
        refuse_empty(flag, value)
    return [] if value is None or value == 0 else [flag, str(value)]


def _stage_main(command: str, flags: list[tuple[str, str | int | None]], *, consumers: str,
                json_output: bool, switches: Sequence[str] = ()) -> int:
    from tooling.cascade import cli as cascade

    def work() -> int:
        argv = [command, *(a for f, v in flags for a in _opt(f, v)), "--consumers", consumers,
                *switches]
        return cascade.main([*argv, *(["--json"] if json_output else [])])

    return guarded(work)


def run_cascade(
    *, version: str | None, consumers: str, jobs: int | None, json_output: bool,
    allow_held: bool = False,
) -> int:
    """`invoke cascade`: bump every non-exempt consumer's pin."""
    return _stage_main("cascade", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output,
                       switches=["--allow-held"] if allow_held else [])


def run_converge(
    *, version: str | None, consumers: str, jobs: int | None, json_output: bool,
    allow_held: bool = False,
) -> int:
    """`invoke converge`: read back every consumer's pin."""
    return _stage_main("converge", [("--version", version), ("--jobs", jobs)],
                       consumers=consumers, json_output=json_output,
                       switches=["--allow-held"] if allow_held else [])


def run_drift(
    *, org: str | None, consumers: str, jobs: int | None, json_output: bool, fix: bool = False,
    max_count: int | None = None, allow_held: bool = False,
) -> int:
    """`invoke drift [--fix [--max N]]`: consumers whose pin lags the index, optionally healed."""
    switches = [*(["--fix"] if fix else []), *(["--allow-held"] if allow_held else [])]
    return _stage_main("drift", [("--org", org), ("--jobs", jobs), ("--max", max_count)],
                       consumers=consumers, json_output=json_output, switches=switches)


def run_versions(*, json_output: bool) -> int:
    """`invoke versions`: every place a version lives."""
    from tooling.release import survey as versions

    return versions.main(["--json"] if json_output else [])


def run_compat(*, check: str | None, json_output: bool) -> int:
    """`invoke compat`: this build's compat.json, or a consumer's needs checked against it."""
    from tooling.api import compat

    return guarded(lambda: compat.main([*_opt("--check", check),
                                        *(["--json"] if json_output else [])]))


def run_workflows(*, check: bool) -> int:
    """`invoke workflows`: generate (or check) the CI workflow files."""
    from tooling.ci import workflows

    return workflows.main(["--check"] if check else [])


def run_tag(*, json_output: bool) -> int:
    """`invoke tag`: create and push the release tag for pyproject's version at HEAD."""

    def work() -> int:
        config = load_config()
        with step("preflight", quiet=json_output):
            state = preflight(config, dry_run=True)
        tag = config.tag_for(config.version)
        with step(f"tag {tag}", quiet=json_output):
            made = create_tag(config.root, tag, state.head,
                                     f"{config.name} {config.version}")
        with step(f"push {tag}", quiet=json_output):
            pushed = push_release(config.root, state.remote, state.branch, tag,
                                         made.commit)
        if json_output:
            print(json.dumps({"tag": asdict(made), "push": asdict(pushed)}, indent=2))
        else:
            print(f"{tag} at {made.commit[:12]} on {pushed.remote}")
        return 0

    return guarded(work)


def run_publish(*, json_output: bool) -> int:
    """`invoke publish`: upload dist/ for pyproject's version and read every file back."""

    def work() -> int:
        config = load_config()
        files = dist_files(config.root / "dist", config.version)
        with step("publish", quiet=json_output):
            report = publish_files(files)
        with step("read back", quiet=json_output):
            back = read_back(files)
        if json_output:
            print(json.dumps({"publish": asdict(report), "read_back": asdict(back)}, indent=2))
        else:
            for published, verified in zip(report.files, back.files, strict=True):
                print(f"{published.filename}  {published.action}  sha256 {verified.sha256}")
        return 0

    return guarded(work)
