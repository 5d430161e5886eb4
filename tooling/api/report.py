"""How an API diff is shown: an aligned text table, JSON, markdown, and Actions annotations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tooling.cli import format_table

if TYPE_CHECKING:
    from tooling.api.changes import ApiDiff, Change

__all__ = ["FORMATS", "diff_to_dict", "render"]

FORMATS = ("text", "json", "markdown", "github")
_MAX_CELL = 48


def _cell(value: str | None) -> str:
    if value is None:
        return "-"
    text = " ".join(value.split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."


def _where(change: Change) -> str:
    return f"{change.file}:{change.line}"


def _title(diff: ApiDiff) -> str:
    return f"Public API of {diff.package}: {diff.against or '(no release yet)'} -> working tree"


def _counts(diff: ApiDiff) -> str:
    changed = f", {len(diff.changed)} changed" if diff.changed else ""
    return (f"{len(diff.breaking)} breaking, {len(diff.added)} added{changed}, "
            f"{len(diff.ignored)} ignored")


def _summary(diff: ApiDiff) -> str:
    return f"required bump: {diff.required_bump} ({_counts(diff)})"


def _shown_path(change: Change) -> str:
    # A value change points into the value: TOOLS[3]["description"].
    return change.path + (change.element or "")


def _shown_new(change: Change) -> str | None:
    if change.new is None and change.still_at:
        return f"still at {change.still_at}"
    return change.new


def _no_release_note(diff: ApiDiff) -> str | None:
    if diff.against is not None:
        return None
    return "no release tag reachable from HEAD: the whole public API counts as added"


def render_text(diff: ApiDiff) -> str:
    """An aligned table, one change per row, then the required bump."""
    lines = [_title(diff)]
    note = _no_release_note(diff)
    if note:
        lines.append(note)
    rows = [("", "CHANGE", "PATH", "OLD", "NEW", "WHERE")]
    groups = (
        ("breaking", diff.breaking),
        ("ignored", tuple(i.change for i in diff.ignored)),
        ("changed", diff.changed),
        ("added", diff.added),
    )
    rows += [
        (label, c.kind, _shown_path(c), _cell(c.old), _cell(_shown_new(c)), _where(c))
        for label, changes in groups
        for c in changes
    ]
    if len(rows) == 1:
        lines.append("no public API changes")
    else:
        lines += format_table(rows[0], rows[1:]).splitlines()
    lines += [f"ignored {i.change.path}: {i.reason} (api-ignore {i.entry!r})" for i in diff.ignored]
    lines.append(_summary(diff))
    return "\n".join(lines)


def _change_dict(change: Change) -> dict[str, object]:
    return {
        "path": change.path,
        "kind": change.kind,
        "old": change.old,
        "new": change.new,
        "file": change.file,
        "line": change.line,
        "message": change.message,
        "element": change.element,
        "still_at": change.still_at,
    }


def diff_to_dict(diff: ApiDiff) -> dict[str, object]:
    """The diff as plain JSON-ready data (the ``--format json`` document)."""
    return {
        "package": diff.package,
        "against": diff.against,
        "required_bump": diff.required_bump,
        "breaking": [_change_dict(c) for c in diff.breaking],
        "added": [_change_dict(c) for c in diff.added],
        "changed": [_change_dict(c) for c in diff.changed],
        "ignored": [
            {**_change_dict(i.change), "reason": i.reason, "entry": i.entry} for i in diff.ignored
        ],
        "unused_ignores": list(diff.unused_ignores),
    }


def render_json(diff: ApiDiff) -> str:
    """``required_bump``, ``breaking``, ``added``, ``changed``, ``ignored``: sorted keys."""
    return json.dumps(diff_to_dict(diff), indent=2, sort_keys=True)


def _md(text: str | None) -> str:
    if text is None:
        return "-"
    return "`" + " ".join(text.split()).replace("`", "'").replace("|", "\\|") + "`"


def _md_table(changes: list[Change]) -> list[str]:
    out = ["| change | path | old | new | where |", "|---|---|---|---|---|"]
    out += [
        f"| {c.kind} | {_md(_shown_path(c))} | {_md(c.old)} | {_md(_shown_new(c))} "
        f"| {_md(_where(c))} |"
        for c in changes
    ]
    return out


def render_markdown(diff: ApiDiff) -> str:
    """A PR comment: the verdict first, then one table per category."""
    icon = {"major": ":boom:", "minor": ":sparkles:", "patch": ":white_check_mark:"}
    lines = [f"### {_title(diff)}", ""]
    lines.append(f"{icon[diff.required_bump]} **Required bump: {diff.required_bump}** "
                 f"({_counts(diff)})")
    note = _no_release_note(diff)
    if note:
        lines += ["", f"_{note}_"]
    if diff.breaking:
        lines += ["", "#### Breaking changes", "", *_md_table(list(diff.breaking))]
    if diff.ignored:
        lines += ["", "#### Ignored breaking changes (`[tool.runtime-build.api-ignore]`)", ""]
        lines += ["| path | change | reason |", "|---|---|---|"]
        lines += [f"| {_md(i.change.path)} | {i.change.kind} | {i.reason} |" for i in diff.ignored]
    if diff.changed:
        lines += ["", "#### Changed values (patch)", "", *_md_table(list(diff.changed))]
    if diff.added:
        lines += ["", "#### Additions", "", *_md_table(list(diff.added))]
    if not (diff.breaking or diff.ignored or diff.added or diff.changed):
        lines += ["", "No public API changes."]
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, change: Change, title: str) -> str:
    """One workflow command, ``::error file=...,line=...,title=...::message``."""
    file, shown = _escape_property(change.file), _escape_property(title)
    props = f"file={file},line={change.line},title={shown}"
    return f"::{level} {props}::{_escape_data(change.message)}"


def render_github(diff: ApiDiff) -> str:
    """``::error`` per breaking change, ``::notice`` per addition, then the verdict."""
    lines = [annotation("error", c, f"API break: {c.kind}") for c in diff.breaking]
    lines += [
        annotation("warning", i.change, f"API break ignored: {i.reason}") for i in diff.ignored
    ]
    lines += [annotation("notice", c, f"API data change: {c.kind}") for c in diff.changed]
    lines += [annotation("notice", c, f"API addition: {c.kind}") for c in diff.added]
    lines.append(_summary(diff))
    return "\n".join(lines)


_RENDERERS = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
}


def render(diff: ApiDiff, fmt: str) -> str:
    """The diff in ``fmt`` (one of FORMATS)."""
    return _RENDERERS[fmt](diff)
