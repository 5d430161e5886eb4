"""The job-summary sections of cascade, converge and drift: their tables, in Markdown.

Each links what it can: the commit a cascade pushed (on an http(s) remote: `<repo>/commit/<sha>`,
the address GitHub and Gitea both serve), the pull request it opened, the index page of the
release.  Pure: rows in, Markdown out; `tooling.summary` writes it.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from tooling.cascade.pins import DISTRIBUTION
from tooling.summary import cell, link, markdown_table, section

if TYPE_CHECKING:
    from tooling.cascade.consumers import ConsumerList
    from tooling.cascade.converge import ConvergeReport
    from tooling.cascade.drift import DriftReport
    from tooling.cascade.engine import CascadeReport
    from tooling.cascade.heal import HealReport

__all__ = [
    "cascade_section",
    "commit_url",
    "converge_section",
    "drift_section",
    "heal_section",
    "web_url",
]


def web_url(url: str) -> str | None:
    """The web address of a repository cloned from ``url`` (http(s) only), else None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    path = parts.path.rstrip("/").removesuffix(".git")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def commit_url(url: str, sha: str | None) -> str | None:
    """The web address of commit ``sha`` in the repository at ``url``, if there is one."""
    base = web_url(url)
    return f"{base}/commit/{sha}" if base and sha else None


def _url_of(consumers: ConsumerList, name: str) -> str:
    return next((c.url for c in consumers.consumers if c.name == name), "")


def _consumer_link(consumers: ConsumerList, name: str) -> str:
    return link(name, web_url(_url_of(consumers, name)))


def _change(consumers: ConsumerList, name: str, commit: str | None, url: str | None) -> str:
    if url:
        return link("pull request", url)
    if commit:
        return link(commit[:12], commit_url(_url_of(consumers, name), commit))
    return "-"


def _counts(results: list[str]) -> str:
    order: dict[str, int] = {}
    for result in results:
        order[result] = order.get(result, 0) + 1
    return ", ".join(f"**{n}** {k}" for k, n in order.items()) or "no consumers"


def cascade_section(report: CascadeReport, consumers: ConsumerList) -> str:
    """`cascade X`: one row per consumer with its commit or pull request linked."""
    rows = []
    for row in report.rows:
        change = _change(consumers, row.consumer, row.commit, row.url)
        rows.append((
            _consumer_link(consumers, row.consumer), cell(row.action), cell(str(row.result)),
            change, cell(row.reason),
        ))
    table = markdown_table(("consumer", "action", "result", "change", "reason"), rows)
    counts = _counts([str(r.result) for r in report.rows])
    return section(f"cascade {report.version}", counts, table)


def converge_section(report: ConvergeReport, consumers: ConsumerList) -> str:
    """`converge X`: what every consumer's remote pin shows."""
    rows = [
        (
            _consumer_link(consumers, r.consumer), cell(str(r.result)), cell(r.got or "-"),
            cell(r.want), cell(r.reason),
        )
        for r in report.rows
    ]
    table = markdown_table(("consumer", "result", "pin", "want", "reason"), rows)
    counts = _counts([str(r.result) for r in report.rows])
    return section(f"converge {report.version}", counts, table)


def drift_section(report: DriftReport, consumers: ConsumerList, index_url: str | None) -> str:
    """`drift`: every consumer's pin against the latest release, linked to its index page."""
    page = f"{index_url.rstrip('/')}/{DISTRIBUTION}/" if index_url else None
    latest = link(report.latest, page)
    rows = [
        (_consumer_link(consumers, r.consumer), cell(str(r.result)), cell(r.pin or "-"),
         cell(r.reason))
        for r in report.rows
    ]
    parts = [
        f"latest release: {latest}",
        _counts([str(r.result) for r in report.rows]),
        markdown_table(("consumer", "result", "pin", "reason"), rows),
    ]
    if report.blind_spots:
        spots = [(cell(s.repository), cell(s.branch), cell(s.pin)) for s in report.blind_spots]
        parts += [
            "blind spots (pinned, missing from the consumer list):",
            markdown_table(("repository", "branch", "pin"), spots),
        ]
    parts += [f"warning: {cell(w)}" for w in report.warnings]
    parts += [f"error: {cell(e)}" for e in report.errors]
    return section("drift", *parts)


def heal_section(report: HealReport, consumers: ConsumerList) -> str:
    """`drift --fix`: healed, still lagging, held, failed, with the commits linked."""
    rows = []
    for row in report.rows:
        change = _change(consumers, row.consumer, row.commit, row.url)
        rows.append((
            _consumer_link(consumers, row.consumer), cell(str(row.result)), change,
            cell(row.reason),
        ))
    table = markdown_table(("consumer", "result", "change", "reason"), rows)
    counts = _counts([str(r.result) for r in report.rows])
    return section(f"drift --fix to {report.version}", counts, table)
