"""`consumers.toml`: the one list of downstream consumer repositories (docs/cascade.md).

Parsed once into frozen dataclasses with `[defaults]` merged in, so the cascade, converge and
the drift guard all read exactly the same set.  Every problem is one line naming the file, the
consumer and the field.
"""

from __future__ import annotations

import re
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tooling.config import refuse_unknown_keys
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    _Fail = Callable[[str, str], ToolingError]

__all__ = [
    "DEFAULT_PATH",
    "FORGES",
    "MODES",
    "Consumer",
    "ConsumerList",
    "load_consumers",
    "needs_token",
    "parse_consumers",
]

DEFAULT_PATH = "consumers.toml"
MODES = ("push", "pr", "dispatch")
FORGES = ("github", "gitea")

# Keys `[defaults]` may set; each consumer may override them.
_DEFAULT_KEYS = frozenset(
    {
        "branch", "mode", "pin-file", "requirements", "release-workflow", "forge", "api-url",
        "author",
    }
)
_CONSUMER_KEYS = _DEFAULT_KEYS | {"name", "url", "exempt", "repository"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^/:\s]+:(?!//)")
_BRANCH_BAD = re.compile(r"(^[-/.])|(\.\.)|[\s~^:?*\[\\]|(/$)|(\.lock$)|(@\{)")
_TOKEN_SCHEMES = frozenset({"http", "https"})
# RFC 3986 scheme: a letter, then letters, digits, '+', '-' or '.'.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_AUTHOR = re.compile(r"(?P<name>[^<>\n]*[^<>\s])\s*<(?P<email>[^<>\s]+@[^<>\s]+)>")
_GLOB = re.compile(r"[*?\[\]]")
DEFAULT_RELEASE_WORKFLOW = ("publish-image.yml",)
_BUILTIN_DEFAULTS: dict[str, object] = {
    "branch": "main",
    "mode": "push",
    "pin-file": ".runtime-version",
    "requirements": ["requirements.txt"],
    "release-workflow": list(DEFAULT_RELEASE_WORKFLOW),
}


@dataclass(frozen=True)
class Consumer:
    """One downstream repository, with `[defaults]` merged in."""

    name: str
    """Its short name, unique in the list (`name`)."""
    url: str
    """Where git clones and pushes it (`url`); a local path is made absolute."""
    branch: str
    """The branch whose pin is bumped and read back (`branch`)."""
    mode: str
    """How the bump lands: `push`, `pr` or `dispatch` (`mode`)."""
    pin_file: str | None
    """Repository-relative path of the pin file (`pin-file`); None (`pin-file = false`) for a
    consumer that pins only in its requirement files."""
    requirements: tuple[str, ...]
    """Repository-relative requirement files whose runtime lines are bumped (`requirements`)."""
    exempt: bool
    """Left alone by the cascade and ignored by the drift guard (`exempt`)."""
    release_workflow: tuple[str, ...]
    """Workflow file names that make it eligible, in `.github/workflows/` or `.gitea/workflows/`
    (`release-workflow`, default `["publish-image.yml"]`)."""
    forge: str
    """`github` or `gitea`: which REST API `pr` and `dispatch` talk to (`forge`)."""
    api_url: str | None
    """The forge's REST API root (`api-url`), derived from `url` when it is http(s)."""
    repository: str | None
    """`owner/name` on the forge (`repository`), derived from the last two parts of `url`."""
    line: int | None = None
    """The line of its `[[consumer]]` header in the file, for annotations."""
    author: tuple[str, str] | None = None
    """`(name, email)` cascade commits are made as (`author = "Name <email>"`); None: git's
    own identity, else a bot one."""

    @property
    def needs_token(self) -> bool:
        """Whether reaching it takes `CASCADE_TOKEN` (http(s) remotes; forge API modes)."""
        return needs_token(self.url) or self.mode in {"pr", "dispatch"}


@dataclass(frozen=True)
class ConsumerList:
    """The parsed `consumers.toml`."""

    path: Path
    """The file it was read from."""
    consumers: tuple[Consumer, ...]
    """Every entry, in file order, exempt ones included."""
    forge: str | None
    """`[defaults] forge`, if set: the forge `drift --org` lists repositories on."""
    api_url: str | None
    """`[defaults] api-url`, if set: that forge's REST API root."""
    pin_file: str = ".runtime-version"
    """`[defaults] pin-file` (`.runtime-version` when false): what `drift --org` looks for in
    repositories not in the list."""

    @property
    def active(self) -> tuple[Consumer, ...]:
        """The entries the cascade propagates to and the drift guard checks: not exempt."""
        return tuple(c for c in self.consumers if not c.exempt)

    def named(self, name: str) -> Consumer:
        """Return the consumer called ``name``."""
        for consumer in self.consumers:
            if consumer.name == name:
                return consumer
        raise ToolingError(f"{self.path}: no consumer named {name!r}")


def needs_token(url: str) -> bool:
    """Whether git needs `CASCADE_TOKEN` to reach ``url``: http(s) remotes do, others not."""
    return urllib.parse.urlsplit(url).scheme.lower() in _TOKEN_SCHEMES


def load_consumers(path: Path | str = DEFAULT_PATH) -> ConsumerList:
    """Read and validate ``path``; every problem names the file, consumer and field."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ToolingError(
            f"{file}: not found; pass --consumers PATH or create it (see docs/cascade.md)"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolingError(f"{file}: cannot read: {exc}", path=file) from exc
    return parse_consumers(text, file)


def parse_consumers(text: str, path: Path) -> ConsumerList:
    """Parse the text of a consumers.toml read from ``path`` (local URLs resolve against it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ToolingError(f"{path}: invalid TOML: {exc}", path=path) from exc
    # Top-level tables: [defaults] and [[consumer]] only; `[default]` gets "did you mean".
    _check_keys(data, frozenset({"defaults", "consumer"}), str(path), path, None)
    raw_defaults = data.get("defaults", {})
    if not isinstance(raw_defaults, dict):
        raise ToolingError(f"{path}: `defaults` must be a table", path=path)
    _check_keys(raw_defaults, _DEFAULT_KEYS, f"{path} [defaults]", path, None)
    defaults = {**_BUILTIN_DEFAULTS, **raw_defaults}
    entries = data.get("consumer", [])
    if not isinstance(entries, list) or not entries:
        raise ToolingError(f"{path}: no [[consumer]] entries; add at least one", path=path)
    header_lines = _header_lines(text)
    consumers: list[Consumer] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = header_lines[index] if index < len(header_lines) else None
        if not isinstance(entry, dict):
            raise ToolingError(f"{path}: consumer #{index + 1} must be a table", path=path)
        consumer = _consumer(entry, defaults, path, index, line)
        if consumer.name in seen:
            raise ToolingError(
                f"{path}: consumer {consumer.name!r} is listed twice (#{seen[consumer.name]} "
                f"and #{index + 1}); keep one entry",
                path=path,
                line=line,
            )
        seen[consumer.name] = index + 1
        consumers.append(consumer)
    forge = raw_defaults.get("forge")
    api_url = raw_defaults.get("api-url")
    return ConsumerList(
        path=path,
        consumers=tuple(consumers),
        forge=forge if isinstance(forge, str) else None,
        api_url=api_url.rstrip("/") if isinstance(api_url, str) else None,
        pin_file=(
            defaults["pin-file"] if isinstance(defaults["pin-file"], str) else ".runtime-version"
        ),
    )


def _header_lines(text: str) -> list[int]:
    pattern = re.compile(r"^[ \t]*\[\[[ \t]*consumer[ \t]*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def _check_keys(
    table: Mapping[str, object], allowed: frozenset[str], where: str, path: Path, line: int | None
) -> None:
    try:
        refuse_unknown_keys(table, allowed, where)
    except ToolingError as exc:
        raise ToolingError(exc.message, path=path, line=line) from exc


def _consumer(
    entry: Mapping[str, object],
    defaults: Mapping[str, object],
    path: Path,
    index: int,
    line: int | None,
) -> Consumer:
    label = entry.get("name")
    who = repr(label) if isinstance(label, str) else f"#{index + 1}"
    where = f"{path}: consumer {who}"
    _check_keys(entry, _CONSUMER_KEYS, where, path, line)
    merged = {**defaults, **entry}

    def fail(field: str, problem: str) -> ToolingError:
        return ToolingError(f"{where}: `{field}` {problem}", path=path, line=line)

    name, url, branch, mode = _identity(merged, path, fail)
    pin_file = _pin_file(merged, fail)
    raw_reqs = merged.get("requirements", [])
    if not isinstance(raw_reqs, list) or not all(isinstance(r, str) for r in raw_reqs):
        raise fail("requirements", "must be a list of repository-relative paths")
    requirements = tuple(_relative("requirements", r, fail) for r in raw_reqs)
    if pin_file is not None and pin_file in requirements:
        raise fail(
            "pin-file",
            f"{pin_file!r} is also listed in `requirements`; a requirement file is bumped line "
            "by line, so set `pin-file = false` for a consumer that pins only there",
        )
    if pin_file is None and not requirements:
        raise fail("pin-file", "is false and `requirements` is empty: nothing would pin it")
    exempt = merged.get("exempt", False)
    if not isinstance(exempt, bool):
        raise fail("exempt", "must be true or false")
    workflows = _release_workflows(merged, fail)
    author = _author(merged, fail)
    forge, api_url = _forge(merged, url, fail)
    repository = _repository(merged, url, fail)
    if mode in {"pr", "dispatch"} and not exempt:
        if api_url is None:
            raise fail("api-url", f"is required for mode {mode!r} when `url` is not http(s)")
        if repository is None:
            raise fail("repository", f"is required for mode {mode!r}: set it to 'owner/name'")
    return Consumer(
        name=name,
        url=url,
        branch=branch,
        mode=mode,
        pin_file=pin_file,
        requirements=requirements,
        exempt=exempt,
        release_workflow=workflows,
        forge=forge,
        api_url=api_url,
        repository=repository,
        line=line,
        author=author,
    )


def _pin_file(merged: Mapping[str, object], fail: _Fail) -> str | None:
    value = merged.get("pin-file")
    if value is False:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail("pin-file", "must be a repository-relative path, or false for none")
    return _relative("pin-file", value.strip(), fail)


def _release_workflows(merged: Mapping[str, object], fail: _Fail) -> tuple[str, ...]:
    value = merged.get("release-workflow")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise fail(
            "release-workflow", 'must be a list of workflow file names, e.g. ["publish-image.yml"]'
        )
    for workflow in names:
        if "/" in workflow or not workflow.endswith((".yml", ".yaml")):
            raise fail(
                "release-workflow",
                f"{workflow!r} must be a workflow file name ending in .yml or .yaml, no '/'",
            )
        if _GLOB.search(workflow):
            raise fail(
                "release-workflow",
                f"{workflow!r} must name the release workflow file; a pattern would count "
                "any workflow (a ci.yml) as a release workflow",
            )
    return tuple(names)


def _author(merged: Mapping[str, object], fail: _Fail) -> tuple[str, str] | None:
    value = merged.get("author")
    if value is None:
        return None
    match = _AUTHOR.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise fail("author", 'must be "Name <email>", e.g. "Runtime Bot <bot@example.org>"')
    return match["name"].strip(), match["email"]


def _string(merged: Mapping[str, object], field: str, fail: _Fail) -> str:
    value = merged.get(field)
    if not isinstance(value, str) or not value.strip():
        raise fail(field, "must be a non-empty string")
    return value.strip()


def _identity(merged: Mapping[str, object], path: Path, fail: _Fail) -> tuple[str, str, str, str]:
    name = _string(merged, "name", fail)
    if not _NAME.fullmatch(name):
        raise fail("name", f"{name!r} must be letters, digits, '.', '_' or '-'")
    url = _resolve_url(_string(merged, "url", fail), path, fail)
    branch = _string(merged, "branch", fail)
    if _BRANCH_BAD.search(branch):
        raise fail("branch", f"{branch!r} is not a valid branch name")
    mode = _string(merged, "mode", fail)
    if mode not in MODES:
        raise fail("mode", f"{mode!r} must be one of {', '.join(MODES)}")
    return name, url, branch, mode


def _split_url(url: str, fail: _Fail) -> urllib.parse.SplitResult:
    """Split ``url``, refusing what git would misread: a bad scheme, whitespace, a bad port."""
    if "://" in url and not _SCHEME.fullmatch(url.split("://", 1)[0]):
        raise fail("url", f"{url!r} is not a valid URL: the part before '://' is not a scheme")
    if any(c.isspace() for c in url):
        raise fail("url", f"{url!r} contains whitespace")
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise fail("url", f"{url!r} is not a valid URL: {exc}") from exc
    return parts


def _resolve_url(url: str, path: Path, fail: _Fail) -> str:
    parts = _split_url(url, fail)
    scheme = parts.scheme.lower()
    if scheme in _TOKEN_SCHEMES and (parts.query or parts.fragment):
        raise fail("url", f"{url!r} must be a clone URL without '?' or '#' parts")
    if scheme in _TOKEN_SCHEMES:
        if parts.username or parts.password or "@" in parts.netloc:
            raise fail("url", "must not carry a user name or token; CASCADE_TOKEN supplies it")
        if not parts.hostname:
            raise fail("url", f"{url!r} has no host")
        return url
    if scheme in {"file", "ssh", "git"}:
        if parts.password:
            raise fail("url", "must not carry a password; CASCADE_TOKEN or ssh keys supply it")
        return url
    if len(scheme) > 1:  # a scheme git may not even know; refuse rather than guess
        raise fail("url", f"scheme {scheme!r} is not supported; use https, ssh, file or a path")
    if _SCP_LIKE.match(url) and not Path(url).is_absolute():
        return url
    local = Path(url)
    if not local.is_absolute():
        local = (path.parent / local).resolve()
    return str(local)


def _relative(field: str, value: str, fail: _Fail) -> str:
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value or value.endswith("/"):
        raise fail(field, f"{value!r} must be a file path relative to the repository root")
    return str(pure)


def _forge(merged: Mapping[str, object], url: str, fail: _Fail) -> tuple[str, str | None]:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    forge = merged.get("forge")
    if forge is None:
        api = merged.get("api-url")
        api_host = urllib.parse.urlsplit(api).hostname if isinstance(api, str) else None
        forge = "github" if "github.com" in {host, api_host} else "gitea"
        if api_host == "api.github.com":
            forge = "github"
    if forge not in FORGES:
        raise fail("forge", f"{forge!r} must be one of {', '.join(FORGES)}")
    api_url = merged.get("api-url")
    if api_url is not None:
        scheme = urllib.parse.urlsplit(api_url).scheme if isinstance(api_url, str) else ""
        if not isinstance(api_url, str) or scheme not in _TOKEN_SCHEMES:
            raise fail("api-url", "must be an http(s) URL of the forge's REST API root")
        parsed = urllib.parse.urlsplit(api_url)
        if parsed.username or parsed.password:
            raise fail("api-url", "must not carry credentials; CASCADE_TOKEN supplies them")
        if not parsed.hostname or parsed.query or parsed.fragment:
            raise fail("api-url", f"{api_url!r} must be a REST API root with a host, no '?' or '#'")
        return str(forge), api_url.rstrip("/")
    if parts.scheme.lower() not in _TOKEN_SCHEMES:
        return str(forge), None
    if host == "github.com":
        return str(forge), "https://api.github.com"
    # Gitea serves its REST API under /api/v1 on the same origin as its git remotes.
    return str(forge), f"{parts.scheme}://{parts.netloc}/api/v1"


def _repository(merged: Mapping[str, object], url: str, fail: _Fail) -> str | None:
    value = merged.get("repository")
    if value is not None:
        if not isinstance(value, str) or not re.fullmatch(r"[^/\s]+/[^/\s]+", value):
            raise fail("repository", "must be 'owner/name'")
        return value
    if _SCP_LIKE.match(url) and "://" not in url:
        route = url.split(":", 1)[1]
    else:
        route = urllib.parse.urlsplit(url).path if "://" in url else url
    segments = [s for s in route.strip("/").split("/") if s]
    if len(segments) < 2:
        return None
    name = segments[-1].removesuffix(".git")
    return f"{segments[-2]}/{name}" if name else None
