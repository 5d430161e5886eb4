"""The release, step by step, and the functions behind each invoke task."""

from __future__ import annotations

__all__ = [
    "run_cascade",
    "run_compat",
    "run_converge",
    "run_drift",
    "run_publish",
    "run_release",
    "run_tag",
    "run_versions",
    "run_workflows",
]


def _opt(flag: str, value: str | int | None) -> list[str]:
    return [] if value in (None, "", 0) else [flag, str(value)]


def run_cascade(*, version: str | None, consumers: str, jobs: int | None, json_output: bool) -> int:
    """`invoke cascade`: bump every non-exempt consumer's pin."""
    from tooling import cascade  # noqa: PLC0415 - each task loads only its stage

    argv = ["cascade", *_opt("--version", version), "--consumers", consumers, *_opt("--jobs", jobs)]
    return cascade.main([*argv, *(["--json"] if json_output else [])])


def run_converge(*, version: str | None, consumers: str, jobs: int | None, json_output: bool) -> int:
    """`invoke converge`: read back every consumer's pin."""
    from tooling import cascade  # noqa: PLC0415

    argv = ["converge", *_opt("--version", version), "--consumers", consumers, *_opt("--jobs", jobs)]
    return cascade.main([*argv, *(["--json"] if json_output else [])])


def run_drift(*, org: str | None, consumers: str, jobs: int | None, json_output: bool) -> int:
    """`invoke drift`: consumers whose pin lags the index."""
    from tooling import cascade  # noqa: PLC0415

    argv = ["drift", *_opt("--org", org), "--consumers", consumers, *_opt("--jobs", jobs)]
    return cascade.main([*argv, *(["--json"] if json_output else [])])


def run_versions(*, json_output: bool) -> int:
    """`invoke versions`: every place a version lives."""
    from tooling import versions  # noqa: PLC0415

    return versions.main(["--json"] if json_output else [])


def run_compat(*, check: str | None, json_output: bool) -> int:
    """`invoke compat`: this build's compat.json, or a consumer's needs checked against it."""
    from tooling import compat  # noqa: PLC0415

    return compat.main([*_opt("--check", check), *(["--json"] if json_output else [])])


def run_workflows(*, check: bool) -> int:
    """`invoke workflows`: generate (or check) the CI workflow files."""
    from tooling import workflows  # noqa: PLC0415

    return workflows.main(["--check"] if check else [])


def run_release(
    *,
    dry_run: bool,
    bump: str | None,
    prerelease: str | None,
    yes: bool,
    json_output: bool,
    consumers: str,
    jobs: int | None,
) -> int:
    """`invoke release`: the whole release, resumable."""
    raise NotImplementedError


def run_tag(*, json_output: bool) -> int:
    """`invoke tag`: create and push the release tag."""
    raise NotImplementedError


def run_publish(*, json_output: bool) -> int:
    """`invoke publish`: upload and read back."""
    raise NotImplementedError
