"""Upload the built files with twine, exactly once, and read every one back from the index.

twine is configured only by its own environment variables (``TWINE_REPOSITORY_URL``,
``TWINE_USERNAME``, ``TWINE_PASSWORD``).  ``--skip-existing`` is never used: it matches file
names only, so a rebuilt file with the same name would pass as "already there".  Instead every
file is looked up on the index (``RUNTIME_INDEX_URL``, the simple API) first: same name and
same sha256 means done, same name and another sha256 is a hard error, never an overwrite.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tooling.cli import guarded
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.index import IndexFile, index_url_from_env, read_project
from tooling.proc import run
from tooling.secrets import redact
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "PublishReport",
    "PublishedFile",
    "ReadBackReport",
    "RetryPolicy",
    "TwineRun",
    "UploadOutcome",
    "VerifiedFile",
    "classify_twine_failure",
    "dist_files",
    "download",
    "main",
    "publish_files",
    "read_back",
]

# Applied to twine's output (short, and the patterns have no nested repetition: linear).
_UNAUTHORIZED = re.compile(r"HTTPError: 40[13]\b")
_CONFLICT = re.compile(r"HTTPError: 40[09]\b|already exists?", re.IGNORECASE)
_CLIENT_ERROR = re.compile(r"HTTPError: 4(?!29)\d\d\b")
# twine re-POSTs a 5xx answer by itself, at once, up to five times; each says so.
_TWINE_RETRY = "Package upload appears to have failed"
_SERVER_ERROR = 500
_TOO_MANY = 429
_CHUNK = 1 << 16


class UploadOutcome(enum.Enum):
    """What one ``twine upload`` run tells about the files it sent."""

    UPLOADED = "uploaded"
    """The index answered 200 for every file."""
    UNKNOWN = "unknown"
    """The request went out and no clear answer came back (connection dropped, response cut,
    timeout, 5xx, 429, anything unrecognised): only the index can say; it is read next."""
    CONFLICT = "conflict"
    """400/409 or "already exists": the index has a file of that name; its bytes decide."""
    UNAUTHORIZED = "unauthorized"
    """401/403: the credentials were refused; nothing was stored."""
    REFUSED = "refused"
    """Another 4xx: the index refused the files; nothing was stored."""


@dataclass(frozen=True)
class TwineRun:
    """One ``twine upload`` run."""

    outcome: UploadOutcome
    """What it tells about the files."""
    detail: str
    """Its last line of output (scrubbed), or what went wrong around it."""
    posts: int
    """Upload tries it made: 1 plus twine's own immediate re-POSTs of a 5xx answer."""


def classify_twine_failure(output: str) -> UploadOutcome:
    """Decide what a failed ``twine upload``'s (scrubbed) output tells about its files."""
    if _UNAUTHORIZED.search(output):
        return UploadOutcome.UNAUTHORIZED
    if _CONFLICT.search(output):
        return UploadOutcome.CONFLICT
    if _CLIENT_ERROR.search(output):
        return UploadOutcome.REFUSED
    return UploadOutcome.UNKNOWN


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry an upload whose outcome is unknown, and downloads."""

    attempts: int = 5
    """Tries in all, the first included (twine's own immediate re-POSTs count as tries)."""
    backoff: float = 1.0
    """Seconds before the second try; doubled before each further one."""
    timeout: float = 600.0
    """Seconds one ``twine upload`` may run; after that its outcome is unknown."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (1-based)."""
        return 0.0 if attempt <= 1 else self.backoff * 2 ** (attempt - 2)


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


@dataclass(frozen=True)
class VerifiedFile:
    """One file read back from the index and found identical to the built one."""

    filename: str
    """Its file name."""
    sha256: str
    """The sha256 of the downloaded bytes, equal to the local file's."""
    url: str
    """Where the index serves it (secrets scrubbed)."""
    stated_sha256: str | None
    """The sha256 the index itself states for it, when it states one."""


@dataclass(frozen=True)
class ReadBackReport:
    """Proof that the index serves exactly what was built."""

    project: str
    """The normalized project name."""
    version: str
    """The version read back."""
    index_url: str
    """The simple API root read (secrets scrubbed)."""
    files: tuple[VerifiedFile, ...]
    """Every file, in the order given."""


def _name_and_version(path: Path) -> tuple[str, str]:
    try:
        if path.name.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(path.name)
        elif path.name.endswith(".tar.gz"):
            name, version = parse_sdist_filename(path.name)
        else:
            raise ToolingError(f"{path}: not a wheel or sdist; publish only .whl and .tar.gz")
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise ToolingError(f"{path}: {exc}; rebuild it with `nox -s build`") from exc
    return str(name), validate_version(str(version), where=f"{path.name} version")


def _release_of(paths: Sequence[Path]) -> tuple[str, str]:
    if not paths:
        raise ToolingError("no files to publish; build them first with `nox -s build`")
    found = {_name_and_version(p) for p in paths}
    if len(found) != 1:
        listed = ", ".join(sorted(f"{n} {v}" for n, v in found))
        raise ToolingError(f"files of several releases given ({listed}); publish one at a time")
    name, version = found.pop()
    return canonicalize_name(name), version


def dist_files(directory: Path, version: str | None = None) -> tuple[Path, ...]:
    """Return the wheels and sdists in ``directory`` (of ``version`` only if given), sorted."""
    files = sorted([*directory.glob("*.whl"), *directory.glob("*.tar.gz")])
    if version is not None:
        files = [f for f in files if _name_and_version(f)[1] == version]
    if not files:
        which = f" of version {version}" if version else ""
        raise ToolingError(f"{directory}: no wheel or sdist{which}; run `nox -s build` first")
    return tuple(files)


def _twine_env(base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    if not env.get("TWINE_REPOSITORY_URL", "").strip():
        # Without it twine would upload to pypi.org: never a default we want.
        raise ToolingError(
            "TWINE_REPOSITORY_URL is not set; set it (and TWINE_USERNAME, TWINE_PASSWORD) "
            "to the index's upload endpoint"
        )
    env.pop("TWINE_REPOSITORY", None)
    env["TWINE_NON_INTERACTIVE"] = "1"
    # A keyring lookup can hang on a headless machine; credentials come from the env only.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def _twine(args: Sequence[str | os.PathLike[str]], env: Mapping[str, str], what: str) -> str:
    done = run([sys.executable, "-m", "twine", *args], env=env, check=False, what=what)
    output = redact(f"{done.stdout}\n{done.stderr}")
    if done.returncode:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        return "\n".join(lines) or f"exit {done.returncode}"
    return ""


def _twine_upload(paths: Sequence[Path], env: Mapping[str, str], timeout: float) -> TwineRun:
    argv = [sys.executable, "-m", "twine", "upload", "--non-interactive",
            "--disable-progress-bar", *map(str, paths)]
    try:
        done = run(argv, env=env, check=False, what="twine upload", timeout=timeout)
    except ToolingError as exc:  # timed out: the request may have been stored
        return TwineRun(UploadOutcome.UNKNOWN, str(exc), 1)
    output = redact(f"{done.stdout}\n{done.stderr}")
    posts = 1 + output.count(_TWINE_RETRY)
    if not done.returncode:
        return TwineRun(UploadOutcome.UPLOADED, "", posts)
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    detail = lines[-1] if lines else f"exit {done.returncode}"
    return TwineRun(classify_twine_failure(output), detail, posts)


def _check(paths: Sequence[Path], env: Mapping[str, str]) -> None:
    failure = _twine(["check", "--strict", *paths], env, "twine check")
    if failure:
        tail = failure.splitlines()[-1]
        raise ToolingError(f"twine check --strict refused the files: {tail}; fix the metadata")


def download(url: str, policy: RetryPolicy, dest: Path | None = None) -> str:
    """Return the sha256 of the bytes ``url`` serves, keeping them at ``dest`` if given.

    Connection errors, 429 and 5xx are retried per ``policy``; any other non-200 answer is an
    error at once.  ``dest`` is written through a temp file, so it is whole or absent.
    """
    last = "no attempt made"
    temp = dest.with_name(f".{dest.name}.part") if dest is not None else None
    for attempt in range(1, policy.attempts + 1):
        time.sleep(policy.delay(attempt))
        digest = hashlib.sha256()
        try:
            with contextlib.ExitStack() as stack:
                response = stack.enter_context(
                    httpx.stream("GET", url, follow_redirects=True, timeout=60.0)
                )
                if response.status_code >= _SERVER_ERROR or response.status_code == _TOO_MANY:
                    last = f"HTTP {response.status_code}"
                    continue
                if response.status_code != httpx.codes.OK:
                    raise ToolingError(
                        redact(f"{url}: HTTP {response.status_code}; check RUNTIME_INDEX_URL")
                    )
                sink = stack.enter_context(temp.open("wb")) if temp is not None else None
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    if sink is not None:
                        sink.write(chunk)
        except httpx.HTTPError as exc:
            last = type(exc).__name__
            continue
        if temp is not None and dest is not None:
            temp.replace(dest)
        return digest.hexdigest()
    raise ToolingError(redact(f"{url}: download failed after {policy.attempts} attempts ({last})"))


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
        attempt = _twine_upload(pending, env, policy.timeout)
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
    project, version = _release_of(paths)
    index = index_url or index_url_from_env()
    if not index:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    twine_env = _twine_env(os.environ if env is None else env)
    _check(paths, twine_env)
    files = _upload_all(paths, version, project, index, env=twine_env, policy=policy)
    return PublishReport(project, version, files)


def read_back(
    paths: Sequence[Path], *, index_url: str | None = None, policy: RetryPolicy | None = None
) -> ReadBackReport:
    """Download every file of ``paths`` from the index and prove its bytes are the built ones."""
    policy = policy or RetryPolicy()
    project, version = _release_of(paths)
    index = index_url or index_url_from_env()
    if not index:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    listing = read_project(index, project, attempts=policy.attempts, backoff=policy.backoff)
    served = {f.filename: f for f in listing.files}
    verified = []
    for path in paths:
        sha = sha256_of(path)
        entry = served.get(path.name)
        if entry is None:
            raise ToolingError(
                redact(f"{path.name}: not served by {index} after upload; check RUNTIME_INDEX_URL")
            )
        if entry.sha256 is not None and entry.sha256 != sha:
            raise ToolingError(
                f"{path.name}: the index states sha256 {entry.sha256[:12]}..., built "
                f"{sha[:12]}...; the index does not serve what was built"
            )
        downloaded = download(entry.url, policy)
        if downloaded != sha:
            raise ToolingError(
                f"{path.name}: downloaded bytes hash to {downloaded[:12]}..., built "
                f"{sha[:12]}...; the index does not serve what was built"
            )
        verified.append(VerifiedFile(path.name, downloaded, redact(entry.url), entry.sha256))
    return ReadBackReport(project, version, redact(index), tuple(verified))


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
