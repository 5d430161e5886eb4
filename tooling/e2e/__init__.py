"""The whole release, for real, in a sandbox (``nox -s e2e``; see tooling/e2e/run.py).

- sandbox: the clone with a bare remote, the consumer repositories, ``invoke release``.
- index: pypiserver on a free loopback port (tests start it too).
- onmerge: a labelled merged pull request on a local GitHub API stand-in.
- readback: what the release made, read back, checked and summarised.
"""

from __future__ import annotations

from tooling.e2e.index import LocalIndex, start_index
from tooling.e2e.readback import E2EResult
from tooling.e2e.run import main, run_e2e
from tooling.e2e.sandbox import (
    CONSUMERS,
    ConsumerSpec,
    clone_with_remote,
    make_consumer,
    sandbox_git_env,
    write_consumers,
)

__all__ = [
    "CONSUMERS",
    "ConsumerSpec",
    "E2EResult",
    "LocalIndex",
    "clone_with_remote",
    "main",
    "make_consumer",
    "run_e2e",
    "sandbox_git_env",
    "start_index",
    "write_consumers",
]
