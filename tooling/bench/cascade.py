"""Benchmark: cascade and converge to 50 and 200 local bare-repository consumers.

Prints wall time per consumer, parallel against serial (`--jobs 1`), and the speed-up.  The
target: 200 consumers cascaded and converged in under 30 s on 2 cores, cost growing
linearly.  Figures only, never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tooling.cascade.consumers import load_consumers
from tooling.cascade.converge import converge_all
from tooling.cascade.engine import cascade_all
from tooling.cascade.fanout import default_jobs
from tooling.cli import format_table
from tooling.git import git

__all__ = ["main"]

_VERSION = "9.9.9"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


@dataclass(frozen=True)
class _Run:
    consumers: int
    """How many consumers."""
    jobs: int
    """Workers used."""
    cascade: float
    """Seconds to cascade all of them."""
    converge: float
    """Seconds to read all of them back."""

    @property
    def total(self) -> float:
        """Cascade plus converge."""
        return self.cascade + self.converge


def _git(cwd: Path, *args: str) -> None:
    git(cwd, *args, env={**os.environ, **_IDENTITY})


def _template(root: Path) -> Path:
    """One consumer repository, bare, shaped like a workspace template."""
    work = root / "template-work"
    (work / ".gitea" / "workflows").mkdir(parents=True)
    (work / ".gitea" / "workflows" / "publish-image.yml").write_text("on: push\n")
    (work / ".runtime-version").write_text("0.1.0\n")
    (work / "requirements.txt").write_text(
        "httpx>=0.27\nmolecule-ai-workspace-runtime==0.1.0\nPyYAML>=6\n"
    )
    (work / "Dockerfile").write_text("FROM python:3.11-slim\n" * 20)
    _git(root, "init", "-q", "-b", "main", str(work))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "chore: init")
    bare = root / "template.git"
    _git(root, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def _consumers(root: Path, template: Path, count: int) -> Path:
    repos = root / f"repos-{count}"
    shutil.rmtree(repos, ignore_errors=True)
    repos.mkdir()
    lines = ["[defaults]", 'branch = "main"', ""]
    for i in range(count):
        shutil.copytree(template, repos / f"c{i:04d}.git")
        lines += [
            "[[consumer]]",
            f'name = "c{i:04d}"',
            f'url = "{(repos / f"c{i:04d}.git").as_uri()}"',
            "",
        ]
    path = root / f"consumers-{count}.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _measure(root: Path, template: Path, count: int, jobs: int | None) -> _Run:
    consumers = load_consumers(_consumers(root, template, count))
    start = time.perf_counter()
    cascaded = cascade_all(consumers, _VERSION, jobs=jobs, token="")
    middle = time.perf_counter()
    converged = converge_all(consumers, _VERSION, jobs=jobs, token="")
    end = time.perf_counter()
    if not cascaded.ok or not converged.ok:
        bad = [*cascaded.failed, *converged.failed]
        print(f"warning: {len(bad)} consumer(s) failed: {bad[:3]}", file=sys.stderr)
    return _Run(count, default_jobs(count, jobs), middle - start, end - middle)


def main(argv: list[str] | None = None) -> int:
    """Run the cascade benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench cascade", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 and 40 consumers instead")
    args = parser.parse_args(argv)
    sizes = (10, 40) if args.quick else (50, 200)
    saved = {k: os.environ.get(k) for k in _IDENTITY}
    os.environ.update(_IDENTITY)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cascade-") as scratch:
            root = Path(scratch)
            template = _template(root)
            runs = []
            for count in sizes:
                parallel = _measure(root, template, count, None)
                serial = _measure(root, template, count, 1)
                runs.append((parallel, serial))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    rows = []
    for parallel, serial in runs:
        per = parallel.total / parallel.consumers * 1000
        rows.append(
            (
                str(parallel.consumers),
                str(parallel.jobs),
                f"{parallel.cascade:.2f}",
                f"{parallel.converge:.2f}",
                f"{parallel.total:.2f}",
                f"{per:.1f}",
                f"{serial.total:.2f}",
                f"{serial.total / parallel.total:.2f}x",
            )
        )
    headers = (
        "consumers",
        "jobs",
        "cascade s",
        "converge s",
        "total s",
        "ms/consumer",
        "serial total s",
        "speed-up",
    )
    print(format_table(headers, rows, rule=True))
    print(f"(cpus: {os.cpu_count()}; target: 200 consumers cascaded + converged < 30 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
