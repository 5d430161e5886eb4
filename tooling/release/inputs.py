"""Every input the release reads, checked before its first side effect.

A typo in an option, the consumer list, an index URL or the CHANGELOG's encoding fails at
the start, never after the push.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cascade.consumers import load_consumers
from tooling.errors import ToolingError
from tooling.index import index_url_from_env, parse_http_url
from tooling.release.versioncommit import changelog_path, read_utf8, version_files
from tooling.smoke.pythons import PYTHONS_ENV, find_pythons, parse_restriction
from tooling.version import parse_bump, parse_prerelease

if TYPE_CHECKING:
    from tooling.config import Config
    from tooling.release.context import ReleaseOptions

__all__ = [
    "check_inputs",
    "check_options",
    "require_consumer_list",
]


_CASCADE_TOKEN = "CASCADE_TOKEN"


def check_options(options: ReleaseOptions) -> None:
    """Refuse a malformed option before anything runs (each names the option and value)."""
    if options.bump is not None:
        parse_bump(options.bump, where="--bump")
    parse_prerelease(options.prerelease)
    if options.jobs is not None and options.jobs < 1:
        raise ToolingError(f"--jobs: {options.jobs} is not a number of workers; give 1 or more")


def require_consumer_list(options: ReleaseOptions) -> None:
    """Fail before the first side effect when the consumer list the cascade reads is missing."""
    load_consumers(Path(options.consumers))


def check_inputs(config: Config, options: ReleaseOptions, *, dry_run: bool) -> None:
    """Check everything the release reads later, so a typo fails now and not after the push.

    The consumer list is parsed and validated in full, the CHANGELOG must be UTF-8, the index
    URLs must parse, and a missing ``CASCADE_TOKEN`` is said now, naming the consumers the
    cascade will skip for it.
    """
    listing = Path(options.consumers)
    # Planning needs no consumer list (a first adoption may not have one, and "nothing to
    # release" must stay exit 0); a release that goes ahead calls require_consumer_list.
    consumers = load_consumers(listing) if listing.exists() else None
    version_files(config)
    read_utf8(changelog_path(config), "CHANGELOG")
    for name in ("RUNTIME_INDEX_URL", "TWINE_REPOSITORY_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            parse_http_url(value, where=name)
    if not dry_run and index_url_from_env() is None:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    bump = os.environ.get("RELEASE_BUMP", "")
    if bump.strip():
        parse_bump(bump, where="RELEASE_BUMP")
    pythons = os.environ.get(PYTHONS_ENV, "")
    if pythons.strip() and not dry_run:
        find_pythons(parse_restriction([pythons]))  # each one named must be found
    needing = [c.name for c in consumers.active if c.needs_token] if consumers else []
    if needing and not os.environ.get(_CASCADE_TOKEN, "").strip():
        print(f"warning: {_CASCADE_TOKEN} not set; the cascade will skip {', '.join(needing)}",
              file=sys.stderr)
