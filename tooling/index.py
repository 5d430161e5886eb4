"""Reading a package index through its simple API: PEP 691 JSON, falling back to PEP 503 HTML."""

from __future__ import annotations

import html.parser
import json
import os
import time
import urllib.parse
from dataclasses import dataclass

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from tooling.errors import ToolingError
from tooling.secrets import redact

__all__ = [
    "IndexFile",
    "IndexProject",
    "index_url_from_env",
    "latest_version",
    "parse_http_url",
    "read_project",
    "version_of_filename",
]

_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
_SERVER_ERROR = 500


@dataclass(frozen=True)
class IndexFile:
    """One distribution file the index serves."""

    filename: str
    """The file name, e.g. ``pkg-1.0.0-py3-none-any.whl``."""
    url: str
    """Where to download it (absolute)."""
    sha256: str | None
    """Its sha256 as the index states it, if it states one."""
    version: str | None
    """The version parsed from the file name, if it parses."""


@dataclass(frozen=True)
class IndexProject:
    """What the index serves for one project."""

    name: str
    """The normalized project name."""
    files: tuple[IndexFile, ...]
    """Every file listed, in the index's order."""

    def versions(self) -> tuple[str, ...]:
        """Every version with at least one file, oldest first."""
        found = {f.version for f in self.files if f.version}
        return tuple(sorted(found, key=Version))

    def files_for(self, version: str) -> tuple[IndexFile, ...]:
        """The files of one version."""
        return tuple(f for f in self.files if f.version == version)


def parse_http_url(value: str, *, where: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL with a host; refuse it otherwise.

    The message names ``where`` (the variable or field) but never the value, which may carry
    credentials.
    """
    try:
        parts = urllib.parse.urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise ToolingError(f"{where}: not a valid URL ({exc}); give http(s)://host/path") from exc
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or not port_ok:
        raise ToolingError(
            f"{where}: not an http(s) URL with a host name; give one such as "
            "https://pypi.example.org/simple/"
        )
    if any(c.isspace() for c in value.strip()):
        raise ToolingError(f"{where}: a URL must not contain spaces; percent-encode them")
    return value.strip()


def index_url_from_env() -> str | None:
    """``RUNTIME_INDEX_URL``: the simple API root to read releases back from (checked)."""
    value = os.environ.get("RUNTIME_INDEX_URL", "").strip()
    return parse_http_url(value, where="RUNTIME_INDEX_URL") if value else None


def version_of_filename(filename: str) -> str | None:
    """The version a wheel or sdist file name carries, or None if it does not parse."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _file(base: str, href: str, filename: str, sha256: str | None) -> IndexFile:
    url = urllib.parse.urljoin(base, href)
    return IndexFile(filename, url.split("#", 1)[0], sha256, version_of_filename(filename))


def _parse_json(base: str, body: str, name: str) -> IndexProject:
    data = json.loads(body)
    files = []
    for entry in data.get("files", []):
        hashes = entry.get("hashes") or {}
        files.append(_file(base, entry["url"], entry["filename"], hashes.get("sha256")))
    return IndexProject(name, tuple(files))


def _parse_html(base: str, body: str, name: str) -> IndexProject:
    parser = _LinkParser()
    parser.feed(body)
    files = []
    for href, text in parser.links:
        fragment = urllib.parse.urlsplit(href).fragment
        sha = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        filename = text or urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
        files.append(_file(base, href, filename, sha))
    return IndexProject(name, tuple(files))


def read_project(
    index_url: str, project: str, *, attempts: int = 4, backoff: float = 0.5, timeout: float = 30.0
) -> IndexProject:
    """List what ``index_url`` (a simple API root) serves for ``project``.

    A project the index does not know is an empty listing.  Connection errors and 5xx
    answers are retried with exponential backoff, ``attempts`` times in all.
    """
    name = canonicalize_name(project)
    url = f"{index_url.rstrip('/')}/{name}/"
    last = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = httpx.get(
                url, headers={"Accept": _ACCEPT}, follow_redirects=True, timeout=timeout
            )
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code == httpx.codes.NOT_FOUND:
            return IndexProject(name, ())
        if response.status_code >= _SERVER_ERROR:
            last = f"HTTP {response.status_code}"
            continue
        if response.status_code != httpx.codes.OK:
            raise ToolingError(
                redact(f"{url}: HTTP {response.status_code}; check RUNTIME_INDEX_URL and access")
            )
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip()
        base = str(response.url)
        if kind == _JSON:
            return _parse_json(base, response.text, name)
        return _parse_html(base, response.text, name)
    raise ToolingError(redact(f"{url}: index unreachable after {attempts} attempts ({last})"))


def latest_version(project: IndexProject, *, include_prereleases: bool = False) -> str | None:
    """The highest version the index serves (final releases only unless asked)."""
    versions = [Version(v) for v in project.versions()]
    if not include_prereleases:
        versions = [v for v in versions if not v.is_prerelease]
    return str(max(versions)) if versions else None
