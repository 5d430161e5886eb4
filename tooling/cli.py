"""The output sink every ``main(argv)`` shares: errors to exit codes, annotations, progress, tables.

Everything printed here is scrubbed of secrets once, on the way out.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import sysconfig
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "DEBUG_ENV",
    "RedactingWriter",
    "annotate",
    "debug_enabled",
    "describe_unexpected",
    "format_table",
    "guarded",
    "redacting_output",
    "report_error",
    "step",
]


class RedactingWriter(io.TextIOBase):
    """A text stream that scrubs secrets from whole lines before they reach ``target``.

    Text is held until a newline (or a flush), so a secret written in two pieces is still
    seen whole.  Each character is scanned once per line it ends up in: linear in the output.
    """

    def __init__(self, target: TextIO) -> None:
        """Wrap ``target`` (normally the real stdout or stderr)."""
        super().__init__()
        self.target = target
        self._pending: list[str] = []

    def write(self, text: str) -> int:
        """Queue ``text``; pass on every completed line, scrubbed."""
        newline = text.rfind("\n")
        if newline == -1:
            self._pending.append(text)
            return len(text)
        self._pending.append(text[: newline + 1])
        self.target.write(redact("".join(self._pending)))
        self._pending = [text[newline + 1 :]] if newline + 1 < len(text) else []
        return len(text)

    def flush(self) -> None:
        """Pass on what is queued, scrubbed, and flush the target."""
        if self._pending:
            self.target.write(redact("".join(self._pending)))
            self._pending = []
        self.target.flush()

    def isatty(self) -> bool:
        """Whether the target is a terminal (live displays ask)."""
        return self.target.isatty()

    def fileno(self) -> int:
        """The target's file descriptor."""
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        """The target's encoding."""
        return self.target.encoding


@contextlib.contextmanager
def redacting_output() -> Iterator[None]:
    """Scrub every line written to stdout and stderr while the block runs (the output sink)."""
    saved = sys.stdout, sys.stderr
    if isinstance(sys.stdout, RedactingWriter):  # already inside a sink
        yield
        return
    sys.stdout, sys.stderr = RedactingWriter(saved[0]), RedactingWriter(saved[1])
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


# ``TOOLING_DEBUG=1`` (or ``--debug`` where a command has it) shows the traceback of an
# unexpected error; without it a user sees one ``error:`` line (docs/release.md, "Debugging").
DEBUG_ENV = "TOOLING_DEBUG"
_STEP_ATTR = "tooling_step"  # set on an exception by the innermost step it escaped


def debug_enabled() -> bool:
    """Whether tracebacks of unexpected errors are wanted (``TOOLING_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes"}


def _origin(exc: BaseException) -> str:
    """``file:line`` of the innermost frame ``exc`` passed that is not Python's or a library's."""
    frames = traceback.extract_tb(exc.__traceback__)
    outside = tuple({sysconfig.get_path(k) for k in ("stdlib", "purelib", "platlib")} - {""})
    ours = [f for f in frames if not f.filename.startswith(outside)] or frames
    if not ours:
        return "unknown location"
    last = ours[-1]
    return f"{last.filename}:{last.lineno}"


def describe_unexpected(exc: BaseException, step_name: str | None) -> str:
    """The one line an unexpected exception becomes: what, in which step, where."""
    detail = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
    where = f"in step {step_name!r} " if step_name else ""
    hint = "" if debug_enabled() else f"; set {DEBUG_ENV}=1 (or pass --debug) for the traceback"
    return redact(f"unexpected error {where}at {_origin(exc)}: {text}{hint}")


def guarded(work: Callable[[], int]) -> int:
    """Run ``work``; every failure becomes one ``error: ...`` line and a non-zero exit code.

    A ToolingError is bad input or a refused action.  Anything else is a bug: it is still one
    line, naming the step and the file; its traceback shows only under ``TOOLING_DEBUG=1``.
    Everything the work prints goes through the output sink, scrubbed of secrets.
    """
    with redacting_output():
        try:
            return work()
        except ToolingError as exc:
            return report_error(exc)
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback by default
            name = getattr(exc, _STEP_ATTR, None)
            if debug_enabled():
                sys.stderr.write(redact("".join(traceback.format_exception(exc))))
            return report_error(ToolingError(describe_unexpected(exc, name), exit_code=1))


@contextlib.contextmanager
def step(name: str, *, quiet: bool = False) -> Iterator[None]:
    """Print one line as a step starts and one as it ends, with its duration."""
    start = time.perf_counter()
    if not quiet:
        print(f"==> {name}", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException as exc:
        if not hasattr(exc, _STEP_ATTR):
            with contextlib.suppress(AttributeError):  # named for guarded()'s one line
                setattr(exc, _STEP_ATTR, name)
        if not quiet:
            took = time.perf_counter() - start
            print(f"<== {name}: failed after {took:.2f}s", file=sys.stderr, flush=True)
        raise
    if not quiet:
        took = time.perf_counter() - start
        print(f"<== {name}: done in {took:.2f}s", file=sys.stderr, flush=True)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, rule: bool = False
) -> str:
    """A plain fixed-width table (readable in any log), every cell scrubbed of secrets.

    Columns are two spaces apart; ``rule`` adds a line of dashes under the headers.
    """
    cells = [[redact(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    ruled = ["  ".join("-" * w for w in widths)] if rule else []
    return "\n".join([line(headers), *ruled, *(line(r) for r in cells)])


@dataclass(frozen=True)
class _Location:
    path: str | None
    line: int | None
    col: int | None


def _in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    # Workflow-command escaping, so a message with a newline or % stays one annotation.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(
    level: str,
    message: str,
    *,
    path: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> None:
    """Print an Actions annotation (``::error file=...,line=...::msg``) under GitHub or Gitea."""
    if not _in_actions():
        return
    props = []
    if path:
        props.append(f"file={_escape_property(path)}")
    if line:
        props.append(f"line={line}")
    if col:
        props.append(f"col={col}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    print(f"{head}::{_escape_data(message)}", flush=True)


def report_error(exc: ToolingError) -> int:
    """Print ``error: ...`` (and an annotation under Actions); return the exit code."""
    message = redact(exc.message)
    where = _Location(exc.path, exc.line, exc.col)
    print(f"error: {message}", file=sys.stderr, flush=True)
    annotate("error", message, path=where.path, line=where.line, col=where.col)
    return exc.exit_code
