"""Markdown sections for the CI job summary page, where CI users look first.

GitHub Actions (and Gitea runners that provide it) name a file in `GITHUB_STEP_SUMMARY`; what a
step appends there is rendered as Markdown on the run's summary page
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary).
Each section is written with one `write` to a file opened for appending, so a section is never
interleaved with another step's; without the variable nothing is written.  Secrets are redacted
like every other output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "SUMMARY_VARIABLE",
    "append_section",
    "cell",
    "link",
    "markdown_table",
    "section",
    "table_section",
]

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
_SAFE_SCHEMES = ("https://", "http://")


def cell(text: str) -> str:
    """Return ``text`` safe inside one Markdown table cell: one line, pipes escaped."""
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def link(text: str, url: str | None) -> str:
    """A Markdown link to ``url`` when it is http(s), else just the escaped ``text``."""
    shown = cell(text)
    if not url or not url.startswith(_SAFE_SCHEMES):
        return shown
    target = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    label = shown.replace("[", "\\[").replace("]", "\\]")
    return f"[{label}]({target})"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; cells must already be escaped (`cell`, `link`)."""
    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def section(title: str, *parts: str) -> str:
    """One summary section: a `###` heading, then each non-empty part as its own paragraph."""
    body = [f"### {cell(title)}", *(p.strip("\n") for p in parts if p.strip())]
    return "\n\n".join(body) + "\n\n"


def table_section(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *notes: str
) -> str:
    """A section of plain text: ``notes`` as paragraphs, then the table; every cell escaped."""
    table = markdown_table(headers, [[cell(str(v)) for v in row] for row in rows])
    return section(title, *(cell(n) for n in notes), table)


def append_section(text: str) -> Path | None:
    """Append ``text`` (a `section`) to `$GITHUB_STEP_SUMMARY` in one write; return the file.

    Without the variable nothing is written and None is returned.  A summary that cannot be
    written never fails the command that produced it: the log has the same content.
    """
    target = os.environ.get(SUMMARY_VARIABLE, "").strip()
    if not target:
        return None
    data = redact(text).encode("utf-8")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write: keep going on the same descriptor
            written += os.write(fd, data[written:])
    except OSError:
        return None
    finally:
        os.close(fd)
    return Path(target)
