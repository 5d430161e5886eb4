"""The release journal and lock: what each step produced, so a crashed release resumes.

``.release/<version>.json`` records, per step, its intent before it acts and its result after
it is verified.  A step recorded ``done`` is never run again; a step recorded ``started`` runs
again, and every step checks the world first (a tag already at the commit, a file already on
the index by sha256, a consumer already at the version), so repeating it is safe.  The file is
replaced atomically (temp file, fsync, ``os.replace``): a crash leaves the old or the new
journal, never half of one.

``.release/lock`` is held with ``fcntl.flock`` for the whole run; the kernel drops it when
its process dies, even by SIGKILL, so a lock left by a dead process is simply taken over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import fcntl
import json
import os
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union, cast

from tooling.errors import ToolingError
from tooling.files import write_atomic
from tooling.secrets import redact
from tooling.version import is_valid_version

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "CRASH_ENV",
    "JOURNAL_DIR",
    "STEPS",
    "Journal",
    "JsonValue",
    "LockHolder",
    "Step",
    "crash_if_asked",
    "find_unfinished",
    "release_lock",
    "release_temp_dir",
    "remove_temp_dirs",
]

JsonValue = Union[str, int, float, bool, None, list["JsonValue"], dict[str, "JsonValue"]]  # noqa: UP007 - a recursive alias needs Union at runtime

JOURNAL_DIR = ".release"


class Step(enum.StrEnum):
    """The release's steps, in order; the value is the name in the journal and the output."""

    PLAN = "plan"
    BUILD = "build"
    SMOKE = "smoke"
    COMMIT = "commit"
    TAG = "tag"
    PUSH = "push"
    PUBLISH = "publish"
    READ_BACK = "read-back"
    CASCADE = "cascade"
    CONVERGE = "converge"


# A journal's steps are always a prefix of this, done.
STEPS = tuple(Step)
# Fault injection for the tests: `<step>` kills this process with SIGKILL right after the
# step is recorded done; `<step>:acted` right after it acted, before it is recorded.
CRASH_ENV = "RELEASE_CRASH_AFTER"
_SCHEMA = 1


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def crash_if_asked(point: str) -> None:
    """Kill this process with SIGKILL if the tests asked for it at ``point`` (CRASH_ENV)."""
    if os.environ.get(CRASH_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


class Journal:
    """One release's journal file; every change is written through before it returns."""

    def __init__(self, path: Path, data: dict[str, JsonValue]) -> None:
        """Wrap ``data`` read from (or to be written to) ``path``."""
        self.path = path
        self._data = data

    @classmethod
    def create(cls, directory: Path, version: str, tag: str, plan: Mapping[str, JsonValue]
               ) -> Journal:
        """Start the journal of ``version``, with the plan every later run resumes from."""
        path = directory / f"{version}.json"
        if path.exists():
            raise ToolingError(f"{path}: a journal for {version} already exists; resume it")
        data: dict[str, JsonValue] = {
            "schema": _SCHEMA, "version": version, "tag": tag, "started": _now(),
            "finished": None, "steps": {}, "plan": dict(plan),
        }
        journal = cls(path, data)
        journal._save()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        """Read a journal; a damaged one is an error naming the file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ToolingError(f"{path}: unreadable release journal ({exc})", path=path) from exc
        if not isinstance(data, dict) or data.get("schema") != _SCHEMA or not isinstance(
            data.get("steps"), dict
        ):
            raise ToolingError(f"{path}: not a release journal of schema {_SCHEMA}", path=path)
        version = data.get("version")
        if not isinstance(version, str) or not is_valid_version(version):
            raise ToolingError(f"{path}: journal version {version!r} is invalid", path=path)
        return cls(path, data)

    def _save(self) -> None:
        # The journal never holds a secret by construction; redact() is the belt to that.
        write_atomic(self.path, redact(json.dumps(self._data, indent=2, sort_keys=True)) + "\n")

    def _steps(self) -> dict[str, JsonValue]:
        return cast("dict[str, JsonValue]", self._data["steps"])

    def _entry(self, step: str) -> dict[str, JsonValue]:
        entry = self._steps().get(step)
        return entry if isinstance(entry, dict) else {}

    @property
    def version(self) -> str:
        """The version being released."""
        return str(self._data["version"])

    @property
    def tag(self) -> str:
        """Its tag."""
        return str(self._data["tag"])

    @property
    def plan(self) -> dict[str, JsonValue]:
        """The plan recorded when the release started."""
        plan = self._data.get("plan")
        return plan if isinstance(plan, dict) else {}

    @property
    def finished(self) -> bool:
        """Whether every step is done."""
        return self._data.get("finished") is not None

    def is_done(self, step: str) -> bool:
        """Whether ``step`` was recorded done."""
        return self._entry(step).get("status") == "done"

    def was_started(self, step: str) -> bool:
        """Whether ``step`` began in an earlier run and was not recorded done."""
        return self._entry(step).get("status") == "started"

    def next_step(self) -> str | None:
        """Return the first step not done, or None when all are."""
        return next((s for s in STEPS if not self.is_done(s)), None)

    def intent(self, step: str) -> dict[str, JsonValue]:
        """Return what ``step`` recorded it was about to do."""
        value = self._entry(step).get("intent")
        return value if isinstance(value, dict) else {}

    def result(self, step: str) -> dict[str, JsonValue]:
        """Return what ``step`` produced; an error if it is not done."""
        value = self._entry(step).get("result")
        if not self.is_done(step) or not isinstance(value, dict):
            raise ToolingError(f"{self.path}: step {step!r} has no recorded result")
        return value

    def begin(self, step: str, intent: Mapping[str, JsonValue] | None = None) -> None:
        """Record that ``step`` is about to act (and with what), before it acts."""
        if step not in STEPS:
            raise ToolingError(f"unknown release step {step!r}")
        entry = self._entry(step)
        runs = entry.get("runs")
        earlier = entry.get("intent")
        kept: dict[str, JsonValue] = dict(intent) if intent else (
            earlier if isinstance(earlier, dict) else {})
        self._steps()[step] = {
            "status": "started", "started": _now(),
            "runs": (runs if isinstance(runs, int) else 0) + 1, "intent": kept,
        }
        self._save()

    def finish(self, step: str, result: Mapping[str, JsonValue]) -> None:
        """Record what ``step`` produced, after it is verified."""
        crash_if_asked(f"{step}:acted")
        entry = self._entry(step)
        entry.update({"status": "done", "finished": _now(), "result": dict(result)})
        self._steps()[step] = entry
        if self.next_step() is None:
            self._data["finished"] = _now()
        self._save()
        crash_if_asked(step)

    def as_json(self) -> dict[str, JsonValue]:
        """Return the whole journal, for reports."""
        copy: dict[str, JsonValue] = json.loads(json.dumps(self._data))
        return copy


def find_unfinished(directory: Path) -> Journal | None:
    """Return the one release journal in ``directory`` that is not finished, if any."""
    if not directory.is_dir():
        return None
    open_ones = [j for j in map(Journal.load, sorted(directory.glob("*.json"))) if not j.finished]
    if len(open_ones) > 1:
        names = ", ".join(j.path.name for j in open_ones)
        raise ToolingError(
            f"{directory}: several unfinished releases ({names}); keep one, move the others away"
        )
    return open_ones[0] if open_ones else None


@dataclass(frozen=True)
class LockHolder:
    """Who holds the release lock."""

    pid: int
    """The holding process."""
    host: str
    """The machine it runs on."""
    since: str
    """When it took the lock (UTC, ISO 8601)."""


def _ensure_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        # The journal is local state: it must never make the tree dirty or be committed.
        write_atomic(ignore, "# release journal and lock: local state, never committed\n*\n")


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 512).decode("utf-8", "replace").split()
    return f"pid {text[0]} on {text[1]} since {text[2]}" if len(text) >= 3 else "another process"


@contextlib.contextmanager
def release_lock(directory: Path) -> Iterator[LockHolder]:
    """Hold ``directory/lock`` for the duration; a second holder stops at once, changing nothing."""
    _ensure_dir(directory)
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolingError(
                f"another release is in progress ({_holder(fd)}; {directory / 'lock'}); "
                "nothing was changed: wait for it to finish, then run again"
            ) from None
        holder = LockHolder(os.getpid(), socket.gethostname(), _now())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder.pid} {holder.host} {holder.since}\n".encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_TEMP_PREFIX = "release-tmp-"
_TEMP_REGISTRY = "tmp-dirs"


def _registered_temp_dirs(directory: Path) -> list[Path]:
    registry = directory / _TEMP_REGISTRY
    if not registry.is_file():
        return []
    lines = registry.read_text(encoding="utf-8").splitlines()
    # Only what this code made: a damaged registry can never point the clean-up elsewhere.
    return [Path(ln) for ln in lines if Path(ln).name.startswith(_TEMP_PREFIX)]


def remove_temp_dirs(directory: Path) -> None:
    """Remove every temporary directory an earlier (perhaps killed) run registered."""
    for temp in _registered_temp_dirs(directory):
        shutil.rmtree(temp, ignore_errors=True)
    (directory / _TEMP_REGISTRY).unlink(missing_ok=True)


@contextlib.contextmanager
def release_temp_dir(directory: Path) -> Iterator[Path]:
    """Make one fresh directory every temporary directory's parent for the duration.

    Stages make their scratch directories (smoke venvs, API diffs, sdist rebuilds, consumer
    clones) with ``tempfile``; pointing it (and ``TMPDIR``, for subprocesses) at one directory
    registered in ``directory/tmp-dirs`` means a SIGKILL leaves them all in one place, which
    the next run removes before it starts.  It lives outside the repository (tools such as
    pytest look for settings in every parent directory) and is removed when the run ends,
    however it ends.
    """
    _ensure_dir(directory)
    remove_temp_dirs(directory)
    temp = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX))
    write_atomic(directory / _TEMP_REGISTRY, f"{temp}\n")
    saved = (tempfile.tempdir, os.environ.get("TMPDIR"))
    tempfile.tempdir = str(temp)
    os.environ["TMPDIR"] = str(temp)
    try:
        yield temp
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        remove_temp_dirs(directory)
