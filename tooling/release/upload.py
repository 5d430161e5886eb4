"""Upload the built files with twine, exactly once, and read every one back from the index.

twine is configured only by its own environment variables (``TWINE_REPOSITORY_URL``,
``TWINE_USERNAME``, ``TWINE_PASSWORD``).  ``--skip-existing`` is never used: it matches file
names only, so a rebuilt file with the same name would pass as "already there".  Instead every
file is looked up on the index (``RUNTIME_INDEX_URL``, the simple API) first: same name and
same sha256 means done, same name and another sha256 is a hard error, never an overwrite.

The twine run is in ``tooling.release.twine_run``, the retry policy and download in
``tooling.release.retry``, the read-back in ``tooling.release.readback``; their public names
stay importable from here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.index import IndexFile, index_url_from_env, read_project
from tooling.release.dists import dist_files, release_of
from tooling.release.readback import ReadBackReport, read_back
from tooling.release.retry import RetryPolicy, download
from tooling.release.twine_run import (
    TwineRun,
    UploadOutcome,
    twine_check,
    twine_env,
    twine_upload,
)
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "PublishReport",
    "PublishedFile",
    "main",
    "publish_files",
]


@dataclass(frozen=True)
class PublishedFile:
    """One file handed to the index."""

    filename: str
    """Its file name."""
    sha256: str
    """The sha256 of the local file, which the index now serves."""
    action: str
    """``uploaded`` (this run sent it) or ``already-present`` (an earlier run did)."""
    attempts: int
    """Upload tries this run needed (0 when it was already present)."""


@dataclass(frozen=True)
class PublishReport:
    """What a publish did."""

    project: str
    """The normalized project name."""
    version: str
    """The version published."""
    files: tuple[PublishedFile, ...]
    """Every file, in the order given."""



def _served_sha256(entry: IndexFile, policy: RetryPolicy) -> str:
    # The stated hash is only a claim; when there is none, the bytes decide.
    return entry.sha256 or download(entry.url, policy)


def _listing(index_url: str, project: str, policy: RetryPolicy) -> dict[str, IndexFile]:
    listing = read_project(
        index_url, project, attempts=policy.attempts, backoff=max(policy.backoff, 0.01)
    )
    return {f.filename: f for f in listing.files}


def _already_published(
    path: Path, sha: str, version: str, entry: IndexFile | None, policy: RetryPolicy
) -> bool:
    if entry is None:
        return False
    served = _served_sha256(entry, policy)
    if served != sha:
        raise ToolingError(
            f"version {version} already published with different content: {path.name} is "
            f"{served[:12]}... on the index but {sha[:12]}... here; never overwritten: "
            "release a new version instead"
        )
    return True


def _settle(
    pending: Sequence[Path], shas: Mapping[Path, str], version: str,
    served: Mapping[str, IndexFile], policy: RetryPolicy,
) -> list[Path]:
    """Return the files of ``pending`` the index serves with our bytes (other bytes: error)."""
    return [p for p in pending
            if _already_published(p, shas[p], version, served.get(p.name), policy)]


def _refusal(run_: TwineRun, pending: Sequence[Path], index_url: str) -> ToolingError:
    names = ", ".join(p.name for p in pending)
    if run_.outcome is UploadOutcome.UNAUTHORIZED:
        return ToolingError(f"upload refused for {names} ({run_.detail}); check TWINE_USERNAME "
                            "and TWINE_PASSWORD (nothing was stored)")
    if run_.outcome is UploadOutcome.CONFLICT:
        return ToolingError(redact(
            f"the index answered that {names} already exist ({run_.detail}) but {index_url} "
            "does not list them; check that RUNTIME_INDEX_URL reads the index "
            "TWINE_REPOSITORY_URL uploads to, then run again"
        ))
    return ToolingError(f"the index refused {names} ({run_.detail}); nothing was stored: fix "
                        "what it names, then run again")


def _upload_all(
    paths: Sequence[Path], version: str, project: str, index_url: str, *,
    env: Mapping[str, str], policy: RetryPolicy,
) -> tuple[PublishedFile, ...]:
    """Upload what the index lacks; an outcome twine cannot tell is settled by the index.

    Before every try the index is read: a file there with our sha256 is published, one with
    other bytes is a hard error, an absent one is (re)sent.  So a dropped or cut response, a
    timeout or a 5xx costs a look-up and, if the file did not land, a retry with backoff;
    never a second copy and never a guess (docs/release.md, "Outcome unknown").
    """
    shas = {p: sha256_of(p) for p in paths}
    done: dict[Path, PublishedFile] = {}
    posts, tries, last = 0, 0, "no attempt made"
    while True:
        tries += 1
        time.sleep(policy.delay(tries))
        served = _listing(index_url, project, policy)
        pending = [p for p in paths if p not in done]
        for path in _settle(pending, shas, version, served, policy):
            action = "already-present" if posts == 0 else "uploaded"
            done[path] = PublishedFile(path.name, shas[path], action, posts)
        pending = [p for p in paths if p not in done]
        if not pending:
            break
        if posts >= policy.attempts:
            raise ToolingError(
                f"upload failed after {posts} tries ({last}); run the publish again later: "
                "files already on the index are recognised by sha256"
            )
        attempt = twine_upload(pending, env, policy.timeout)
        posts += attempt.posts
        if attempt.outcome is UploadOutcome.UPLOADED:
            done.update({p: PublishedFile(p.name, shas[p], "uploaded", posts) for p in pending})
            break
        last = attempt.detail
        if attempt.outcome is UploadOutcome.CONFLICT:
            served = _listing(index_url, project, policy)
            settled = _settle(pending, shas, version, served, policy)
            for path in settled:
                done[path] = PublishedFile(path.name, shas[path], "already-present", posts)
            if settled:
                continue  # twine stops at the first refused file: send the rest next
        if attempt.outcome is not UploadOutcome.UNKNOWN:
            raise _refusal(attempt, pending, index_url)
    return tuple(done[p] for p in paths)


def publish_files(
    paths: Sequence[Path],
    *,
    index_url: str | None = None,
    policy: RetryPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> PublishReport:
    """Upload ``paths`` (one release's files) unless the index already has each, byte for byte.

    ``index_url`` is the simple API to look files up in (default ``RUNTIME_INDEX_URL``);
    ``env`` the environment twine sees (default this process's).
    """
    policy = policy or RetryPolicy()
    project, version = release_of(paths)
    index = index_url or index_url_from_env()
    if not index:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    environ = twine_env(os.environ if env is None else env)
    twine_check(paths, environ)
    files = _upload_all(paths, version, project, index, env=environ, policy=policy)
    return PublishReport(project, version, files)



def _print_text(report: PublishReport, back: ReadBackReport) -> None:
    width = max(len(f.filename) for f in report.files)
    print(f"{report.project} {report.version} on {back.index_url}")
    for published, verified in zip(report.files, back.files, strict=True):
        print(f"  {published.filename:<{width}}  {published.action:<15}  sha256 {verified.sha256}")


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.release.upload``: upload dist/ and read every file back."""
    parser = argparse.ArgumentParser(prog="python -m tooling.release.upload", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="files to publish (default: dist/)")
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="directory of files")
    parser.add_argument("--attempts", type=int, default=RetryPolicy.attempts)
    parser.add_argument("--backoff", type=float, default=RetryPolicy.backoff)
    parser.add_argument("--timeout", type=float, default=RetryPolicy.timeout,
                        help="seconds one twine upload may take before its outcome is unknown")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    args = parser.parse_args(argv)

    def work() -> int:
        paths = tuple(args.files) or dist_files(args.dist)
        policy = RetryPolicy(max(1, args.attempts), max(0.0, args.backoff),
                             max(1.0, args.timeout))
        report = publish_files(paths, policy=policy)
        back = read_back(paths, policy=policy)
        if args.json:
            print(json.dumps({"publish": asdict(report), "read_back": asdict(back)}, indent=2))
        else:
            _print_text(report, back)
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
