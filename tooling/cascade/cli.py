"""What `python -m tooling.cascade` prints and which exit code it returns, per command.

Before any clone, the token is checked once per forge host the run reaches (a 401 stops the
run with one line, tooling.cascade.preflight).
cascade: the table, one warning when `CASCADE_TOKEN` is missing, 1 if any consumer failed (a
consumer with a release workflow left unpinned).  converge: the table,
`::error msg=cascade-divergence ...::` per divergent pin under Actions, 1 on any divergence.
drift: the table and blind spots, 1 if a pin lags, 2 on real errors; `--fix` cascades the
lagging ones and converges them.  All three: 3 when held consumers (needs unmet) are all that
is wrong, unless `--allow-held`.  The table goes to stdout, or to stderr when `--json` puts the
report on stdout; under CI the same table goes to the job summary (tooling.summary).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.parse
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tooling.cascade.consumers import DEFAULT_PATH, Consumer, ConsumerList, load_consumers
from tooling.cascade.converge import converge_all, divergence_line
from tooling.cascade.drift import LAGGING, drift_all, latest_release
from tooling.cascade.engine import ATTEMPTS, cascade_all
from tooling.cascade.forge import ForgeClient
from tooling.cascade.gitenv import cascade_token
from tooling.cascade.heal import exit_code, heal
from tooling.cascade.needs import CompatSource
from tooling.cascade.outcome import HELD_EXIT, Outcome
from tooling.cascade.preflight import ForgeHost, forge_hosts, preflight
from tooling.cascade.summaries import (
    cascade_section,
    converge_section,
    drift_section,
    heal_section,
)
from tooling.cli import annotate, format_table, guarded
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.index import index_url_from_env
from tooling.summary import append_section
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tooling.cascade.drift import DriftReport
    from tooling.cascade.heal import HealReport

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
    print(json.dumps(data, indent=2, sort_keys=True), file=stdout, flush=True)


def _warn(message: str) -> None:
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


def _compat(args: argparse.Namespace, version: str, index_url: str | None) -> CompatSource:
    """Where the release's compat.json comes from: --compat, else dist/, else the index.

    An explicit --compat is read now, so a wrong path stops the run before any consumer.
    """
    source = CompatSource(version, path=args.compat, index_url=index_url or index_url_from_env())
    if args.compat is not None:
        source.get()
    return source


def _preflight(
    consumers: Sequence[Consumer], token: str | None, *, org: str | None = None,
    org_host: ForgeHost | None = None,
) -> bool:
    """Check the token on every forge host before any clone; return whether --org can list."""
    if not token:
        return True
    extra = (org_host,) if org_host is not None else ()
    checked = preflight(forge_hosts(consumers, extra), token, org=org, org_host=org_host)
    for warning in checked.warnings:
        _warn(warning)
    return checked.org_listable


def _held_code(code: int, held: Sequence[str], allow_held: bool) -> int:
    """Turn a clean exit into HELD_EXIT when consumers were held (unless allowed)."""
    for name in held:
        annotate("warning", f"held {name}: the release does not meet its declared needs")
    return HELD_EXIT if code == 0 and held and not allow_held else code


def _cascade(args: argparse.Namespace, stdout: TextIO) -> int:
    version = _version(args.version)  # refused here, before any consumer is touched
    consumers = load_consumers(args.consumers)
    token = cascade_token()
    _preflight(consumers.active, token)
    report = cascade_all(
        consumers, version, jobs=args.jobs, attempts=args.attempts,
        compat=_compat(args, version, None), progress=True,
    )
    rows = [(r.consumer, r.action, r.result, r.reason) for r in report.rows]
    _print_table(rows, to_stderr=args.json)
    _warn_no_token(report.credentials_missing, "the cascade")
    for row in report.failed:
        annotate(
            "error", f"cascade {row.consumer}: {row.reason}",
            path=str(consumers.path), line=_line_of(consumers, row.consumer),
        )
    kinds = (Outcome.UPDATED, Outcome.CURRENT, Outcome.SKIPPED, Outcome.HELD, Outcome.FAILED)
    counts = {k: sum(r.result == k for r in report.rows) for k in kinds}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    print(f"cascade {version}: {summary} in {report.seconds:.1f}s", file=sys.stderr, flush=True)
    append_section(cascade_section(report, consumers))
    code = _held_code(0 if report.ok else 1, [r.consumer for r in report.held], args.allow_held)
    if args.json:
        _print_json({**asdict(report), "ok": report.ok, "exit_code": code}, stdout)
    return code


def _converge(args: argparse.Namespace, stdout: TextIO) -> int:
    version = _version(args.version)
    consumers = load_consumers(args.consumers)
    token = cascade_token()
    _preflight(consumers.active, token)
    report = converge_all(
        consumers, version, jobs=args.jobs, wait=args.wait,
        compat=_compat(args, version, None), progress=True,
    )
    rows = [(r.consumer, r.action, r.result, r.reason) for r in report.rows]
    _print_table(rows, to_stderr=args.json)
    if report.credentials_missing:
        _warn_no_token(report.credentials_missing, "converge (like the cascade)")
    if os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true":
        for row in report.rows:
            if row.result in {Outcome.DIVERGED, Outcome.MISSING}:
                print(divergence_line(row), flush=True)
    for row in report.failed:
        if row.result == Outcome.ERROR:
            annotate("error", f"converge {row.consumer}: {row.reason}")
    read = [r for r in report.rows if r.action == "read"]
    if not read and report.credentials_missing:
        print("converge skipped: the cascade was skipped (no CASCADE_TOKEN)", file=sys.stderr)
    good = sum(r.result in {Outcome.CONVERGED, Outcome.PENDING} for r in report.rows)
    print(
        f"converge {version}: {good} at {version}, {len(report.held)} held, "
        f"{len(report.failed)} diverged or unreadable in {report.seconds:.1f}s",
        file=sys.stderr, flush=True,
    )
    append_section(converge_section(report, consumers))
    code = _held_code(0 if report.ok else 1, [r.consumer for r in report.held], args.allow_held)
    if args.json:
        _print_json({**asdict(report), "ok": report.ok, "exit_code": code}, stdout)
    return code


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
    if args.max is not None and not args.fix:
        raise ToolingError("--max limits --fix; pass --fix too (or drop --max)")
    token = cascade_token()
    org_host = _org_host(args, consumers) if args.org else None
    listable = _preflight(consumers.active, token, org=args.org, org_host=org_host)
    latest, published = latest_release(index_url)
    compat = _compat(args, latest, index_url)
    forge = ForgeClient(org_host.kind, org_host.api_url, token) if org_host else None
    try:
        report = drift_all(
            consumers, latest, published, jobs=args.jobs, org=args.org if listable else None,
            forge=forge, compat=compat, progress=True,
        )
    finally:
        if forge is not None:
            forge.close()
    _print_drift(report, consumers, to_stderr=args.json)
    append_section(drift_section(report, consumers, index_url))
    healed = None
    if args.fix:
        healed = heal(
            consumers, report, max_count=args.max, jobs=args.jobs, compat=compat, progress=True
        )
        _print_heal(healed, to_stderr=args.json)
        append_section(heal_section(healed, consumers))
    code = exit_code(report, healed, allow_held=args.allow_held)
    if args.json:
        data: dict[str, object] = {**asdict(report), "exit_code": code}
        if healed is not None:
            data["heal"] = asdict(healed)
        _print_json(data, stdout)
    return code


def _print_drift(report: DriftReport, consumers: ConsumerList, *, to_stderr: bool) -> None:
    rows = [(r.consumer, r.result, r.pin or "-", r.reason) for r in report.rows]
    _print_table(rows, to_stderr=to_stderr, headers=("consumer", "result", "pin", "reason"))
    if report.blind_spots:
        spots = [(s.repository, s.branch, s.pin) for s in report.blind_spots]
        print("\nblind spots (pinned, missing from the consumer list):", file=sys.stderr)
        _print_table(spots, to_stderr=to_stderr, headers=("repository", "branch", "pin"))
    for warning in report.warnings:
        _warn(warning)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
        annotate("error", error)
    for row in report.rows:
        if row.result in {*LAGGING, Outcome.ERROR}:
            annotate(
                "error", f"drift {row.consumer}: {row.reason}",
                path=str(consumers.path), line=_line_of(consumers, row.consumer),
            )
    lagging = sum(r.result in LAGGING for r in report.rows)
    held = sum(r.result == Outcome.HELD for r in report.rows)
    print(
        f"drift against {report.latest}: {lagging} lagging, {held} held, "
        f"{len(report.blind_spots)} blind spot(s)",
        file=sys.stderr, flush=True,
    )


def _print_heal(healed: HealReport, *, to_stderr: bool) -> None:
    out = sys.stderr if to_stderr else sys.stdout
    print(f"\ndrift --fix to {healed.version}:", file=out, flush=True)
    rows = [(r.consumer, r.result, r.reason) for r in healed.rows]
    _print_table(rows, to_stderr=to_stderr, headers=("consumer", "result", "reason"))
    kinds = (Outcome.HEALED, Outcome.LAGGING, Outcome.HELD, Outcome.FAILED)
    names = {Outcome.LAGGING: "still lagging"}
    said = ", ".join(f"{healed.count(k)} {names.get(k, str(k))}" for k in kinds)
    print(f"drift --fix {healed.version}: {said}", file=sys.stderr, flush=True)


def _org_host(args: argparse.Namespace, consumers: ConsumerList) -> ForgeHost:
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
    return ForgeHost(kind, api_url.rstrip("/"))


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
    common.add_argument(
        "--allow-held", action="store_true",
        help=f"exit 0 rather than {HELD_EXIT} when consumers are held (their needs unmet)",
    )
    common.add_argument(
        "--compat", type=Path, metavar="PATH",
        help="the release's compat.json or wheel (default: its wheel in dist/, else the index)",
    )
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
    drift.add_argument(
        "--fix", action="store_true",
        help="cascade the lagging consumers to the latest release, then converge them",
    )
    drift.add_argument(
        "--max", type=_positive, default=None, metavar="N",
        help="with --fix: heal at most N consumers this run, in list order (default: all)",
    )
    drift.add_argument(
        "--attempts", type=_positive, default=ATTEMPTS, metavar="N", help=argparse.SUPPRESS
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
