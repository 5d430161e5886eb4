"""The release's closing report: on stdout (text or JSON) and in the CI step summary."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tooling.release.journal import Journal, Step
from tooling.release.records import CommitRecord
from tooling.summary import append_section, cell, link, markdown_table, section

if TYPE_CHECKING:
    from tooling.release.context import ReleaseOptions

__all__ = [
    "report_release",
]


def report_release(journal: Journal, timings: dict[str, float], options: ReleaseOptions) -> None:
    """Say what was released: its files and hashes (JSON with ``--json``), and in the CI summary."""
    files = journal.result(Step.READ_BACK).get("files")
    if options.json_output:
        report = {
            "version": journal.version, "tag": journal.tag,
            "commit": CommitRecord.load(journal).commit,
            "files": files, "cascade": journal.result(Step.CASCADE).get("consumers"),
            "converge": journal.result(Step.CONVERGE).get("consumers"),
            "seconds": timings, "journal": str(journal.path),
        }
        print(json.dumps(report, indent=2))
        return
    if journal.plan.get("dev") and journal.result("tag").get("skipped"):
        print(f"released {journal.version} (dev release, untagged)")
    else:
        print(f"released {journal.version} as {journal.tag}")
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict):
            print(f"  {entry.get('filename')}  sha256 {entry.get('sha256')}")
    listed = [e for e in files if isinstance(e, dict)] if isinstance(files, list) else []
    append_section(section(f"release {journal.version} ({journal.tag})", markdown_table(
        ("file", "sha256"), [(link(str(e.get("filename")), str(e.get("url") or "")),
                              cell(str(e.get("sha256")))) for e in listed])))
