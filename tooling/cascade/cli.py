"""What `python -m tooling.cascade` prints and which exit code it returns, per command.

cascade: the table, one warning when `CASCADE_TOKEN` is missing, 1 if any consumer failed.
converge: the table, `::error msg=cascade-divergence ...::` per divergent pin under Actions,
1 on any divergence.  drift: the table and blind spots, 1 if a pin lags, 2 on real errors.
The table goes to stdout, or to stderr when `--json` puts the report on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.parse
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from tooling.cascade.consumers import DEFAULT_PATH, ConsumerList, load_consumers
from tooling.cascade.converge import converge_all, divergence_line
from tooling.cascade.drift import drift_all, latest_release
from tooling.cascade.engine import ATTEMPTS, cascade_all
from tooling.cascade.forge import ForgeClient
from tooling.cascade.repos import cascade_token
from tooling.cli import annotate, format_table, guarded
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.index import index_url_from_env
from tooling.secrets import redact
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["run"]

_HEADERS = ("consumer", "action", "result", "reason")


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; return its exit code.

    With `--json` the report is the only thing on stdout: the table, progress and Actions
    annotations go to stderr (the runner reads workflow commands from both).
    """
    command = {"cascade": _cascade, "converge": _converge, "drift": _drift}[args.command]
    stdout = sys.stdout
    if not args.json:
        return command(args, stdout)
    with contextlib.redirect_stdout(sys.stderr):
        return command(args, stdout)


def _version(value: str | None) -> str:
    # Only "not given" takes pyproject's version; an explicit "" is refused by the validator.
    if value is not None:
        return validate_version(value, where="--version")
    return load_config().version


def _print_table(
    rows: Sequence[Sequence[str]], *, to_stderr: bool, headers: Sequence[str] = _HEADERS
) -> None:
    out = sys.stderr if to_stderr else sys.stdout
    print(format_table(headers, rows, rule=True), file=out, flush=True)


def _print_json(data: dict[str, object], stdout: TextIO) -> None:
    print(redact(json.dumps(data, indent=2, sort_keys=True)), file=stdout, flush=True)


def _warn(message: str) -> None:
    message = redact(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)
    annotate("warning", message)


def _line_of(consumers: ConsumerList, name: str) -> int | None:
    return next((c.line for c in consumers.consumers if c.name == name), None)


def _warn_no_token(names: Sequence[str], what: str) -> None:
    if names:
        _warn(
            f"CASCADE_TOKEN is not set; {what} skipped {len(names)} consumer(s) whose remote or "
            f"mode needs it: {', '.join(names)} (set CASCADE_TOKEN and re-run)"
        )


def _cascade(args: argparse.Namespace, stdout: TextIO) -> int:
    version = _version(args.version)  # refused here, before any consumer is touched
    consumers = load_consumers(args.consumers)
    cascade_token()
    report = cascade_all(consumers, version, jobs=args.jobs, attempts=args.attempts, progress=True)
    rows = [(r.consumer, r.action, r.result, r.reason) for r in report.rows]
    _print_table(rows, to_stderr=args.json)
    _warn_no_token(report.credentials_missing, "the cascade")
    for row in report.failed:
        annotate(
            "error", f"cascade {row.consumer}: {redact(row.reason)}",
            path=str(consumers.path), line=_line_of(consumers, row.consumer),
        )
    kinds = ("updated", "current", "skipped", "failed")
    counts = {k: sum(r.result == k for r in report.rows) for k in kinds}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    print(f"cascade {version}: {summary} in {report.seconds:.1f}s", file=sys.stderr, flush=True)
    if args.json:
        _print_json({**asdict(report), "ok": report.ok}, stdout)
    return 0 if report.ok else 1


def _converge(args: argparse.Namespace, stdout: TextIO) -> int:
    version = _version(args.version)
    consumers = load_consumers(args.consumers)
    cascade_token()
    report = converge_all(consumers, version, jobs=args.jobs, wait=args.wait, progress=True)
    rows = [(r.consumer, r.action, r.result, r.reason) for r in report.rows]
    _print_table(rows, to_stderr=args.json)
    if report.credentials_missing:
        _warn_no_token(report.credentials_missing, "converge (like the cascade)")
    if os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true":
        for row in report.rows:
            if row.result in {"diverged", "missing"}:
                print(redact(divergence_line(row)), flush=True)
    for row in report.failed:
        if row.result == "error":
            annotate("error", f"converge {row.consumer}: {redact(row.reason)}")
    read = [r for r in report.rows if r.action == "read"]
    if not read and report.credentials_missing:
        print("converge skipped: the cascade was skipped (no CASCADE_TOKEN)", file=sys.stderr)
    good = sum(r.result in {"converged", "pending"} for r in report.rows)
    print(
        f"converge {version}: {good} at {version}, {len(report.failed)} diverged or unreadable"
        f" in {report.seconds:.1f}s",
        file=sys.stderr, flush=True,
    )
    if args.json:
        _print_json({**asdict(report), "ok": report.ok}, stdout)
    return 0 if report.ok else 1


def _drift(args: argparse.Namespace, stdout: TextIO) -> int:
    try:
        return _drift_checked(args, stdout)
    except ToolingError as exc:
        if exc.exit_code == 1:
            exc.exit_code = 2  # drift: 1 means "a pin lags", so every real error is 2
        raise


def _drift_checked(args: argparse.Namespace, stdout: TextIO) -> int:
    consumers = load_consumers(args.consumers)
    index_url = args.index_url or index_url_from_env()
    if not index_url:
        raise ToolingError("drift needs the index: set RUNTIME_INDEX_URL or pass --index-url")
    latest, published = latest_release(index_url)
    token = cascade_token()
    forge = _org_forge(args, consumers, token) if args.org else None
    try:
        report = drift_all(
            consumers, latest, published, jobs=args.jobs, org=args.org, forge=forge, progress=True
        )
    finally:
        if forge is not None:
            forge.close()
    rows = [(r.consumer, r.result, r.pin or "-", r.reason) for r in report.rows]
    _print_table(rows, to_stderr=args.json, headers=("consumer", "result", "pin", "reason"))
    if report.blind_spots:
        spots = [(s.repository, s.branch, s.pin) for s in report.blind_spots]
        print("\nblind spots (pinned, missing from the consumer list):", file=sys.stderr)
        _print_table(spots, to_stderr=args.json, headers=("repository", "branch", "pin"))
    for warning in report.warnings:
        _warn(warning)
    for error in report.errors:
        print(f"error: {redact(error)}", file=sys.stderr)
        annotate("error", redact(error))
    for row in report.rows:
        if row.result in {"lagging", "missing", "invalid", "unpublished", "error"}:
            annotate(
                "error", f"drift {row.consumer}: {redact(row.reason)}",
                path=str(consumers.path), line=_line_of(consumers, row.consumer),
            )
    lagging = sum(r.result in {"lagging", "missing", "invalid", "unpublished"} for r in report.rows)
    print(
        f"drift against {latest}: {lagging} lagging, {len(report.blind_spots)} blind spot(s)",
        file=sys.stderr, flush=True,
    )
    if args.json:
        _print_json({**asdict(report), "exit_code": report.exit_code}, stdout)
    return report.exit_code


def _org_forge(args: argparse.Namespace, consumers: ConsumerList, token: str | None) -> ForgeClient:
    api_url = args.forge_url or consumers.api_url
    kind = args.forge_kind or consumers.forge
    if not api_url:
        found = {c.api_url for c in consumers.active if c.api_url}
        if len(found) != 1:
            raise ToolingError(
                f"{consumers.path}: cannot tell which forge lists --org {args.org}; pass "
                "--forge-url (and --forge-kind) or set [defaults] api-url"
            )
        api_url = found.pop()
    if not kind:
        host = urllib.parse.urlsplit(api_url).hostname or ""
        kind = "github" if host in {"api.github.com", "github.com"} else "gitea"
    return ForgeClient(kind, api_url, token)


def main(argv: list[str] | None = None) -> int:
    """`python -m tooling.cascade {cascade,converge,drift}`: the three consumer commands."""
    parser = argparse.ArgumentParser(
        prog="python -m tooling.cascade",
        description="Cascade a runtime release to its consumers, read it back, guard drift.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--consumers", default=DEFAULT_PATH, metavar="PATH",
        help=f"the consumer list (default: {DEFAULT_PATH})",
    )
    common.add_argument(
        "--jobs", type=_positive, default=None, metavar="N",
        help="parallel workers (default: one per consumer, at most 16)",
    )
    common.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cascade = commands.add_parser(
        "cascade", parents=[common], help="bump every non-exempt consumer's pin"
    )
    cascade.add_argument("--version", help="the version to pin (default: pyproject's)")
    cascade.add_argument(
        "--attempts", type=_positive, default=ATTEMPTS, metavar="N",
        help=f"push attempts per consumer when someone pushes meanwhile (default: {ATTEMPTS})",
    )
    converge = commands.add_parser(
        "converge", parents=[common], help="read every cascaded pin back from its remote"
    )
    converge.add_argument(
        "--version", help="the version every pin must show (default: pyproject's)"
    )
    converge.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS",
        help="keep re-reading diverged consumers this long (dispatch consumers write their own)",
    )
    drift = commands.add_parser(
        "drift", parents=[common], help="consumers whose pin lags the latest release on the index"
    )
    drift.add_argument("--org", metavar="OWNER", help="also list the org's pinned repos not listed")
    drift.add_argument("--forge-url", metavar="URL", help="the forge REST API root for --org")
    drift.add_argument("--forge-kind", choices=("github", "gitea"), help="the forge for --org")
    drift.add_argument(
        "--index-url", metavar="URL", help="the simple API root (default: $RUNTIME_INDEX_URL)"
    )
    args = parser.parse_args(argv)
    return guarded(lambda: run(args))


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


if __name__ == "__main__":
    sys.exit(main())
