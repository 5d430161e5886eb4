"""Which credentials the upload will use, checked before a release changes anything.

twine is configured by its own variables.  Two ways to authenticate are accepted: a password
(``TWINE_USERNAME`` + ``TWINE_PASSWORD``: an API token, or a Gitea token), or, on GitHub
Actions, trusted publishing (OIDC), which twine 6.1+ does by itself: in a job with
``id-token: write`` the runner sets ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, and when the upload URL is pypi.org's or test.pypi.org's,
the username is ``__token__`` (twine's default there) and no password is set, twine exchanges
the job's OIDC token for a short-lived upload token.  Only names are ever printed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PUBLISH_CREDENTIALS", "TRUSTED_PUBLISHING", "publish_auth"]

# Needed to publish with a password.  Names only: values are never read out.
PUBLISH_CREDENTIALS = ("TWINE_REPOSITORY_URL", "TWINE_USERNAME", "TWINE_PASSWORD",
                       "RUNTIME_INDEX_URL")
# Set by GitHub Actions in a job with `id-token: write`: what twine's trusted publishing uses.
TRUSTED_PUBLISHING = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
# The only indexes twine mints trusted-publishing tokens for (twine.auth.Resolver.is_pypi).
_TRUSTED_UPLOAD = ("https://upload.pypi.org/legacy/", "https://test.pypi.org/legacy/")
_TOKEN_USER = "__token__"


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def publish_auth(env: Mapping[str, str] | None = None) -> str:
    """Return how the upload will authenticate: ``password`` or ``trusted-publishing``.

    A password (``TWINE_USERNAME`` + ``TWINE_PASSWORD``) wins when set.  Without one, GitHub
    Actions' OIDC variables (present when the job has ``id-token: write``) mean twine's
    trusted publishing: twine itself exchanges the job's OIDC token for a short-lived upload
    token, which it does only for pypi.org and test.pypi.org and only with the user name
    ``__token__`` (its default there).  Anything else is an error naming what is missing;
    names only are printed, never values.
    """
    source = os.environ if env is None else env
    missing = [n for n in ("TWINE_REPOSITORY_URL",) if not _is_set(source, n)]
    index_missing = [] if _is_set(source, "RUNTIME_INDEX_URL") else ["RUNTIME_INDEX_URL"]
    oidc = all(_is_set(source, n) for n in TRUSTED_PUBLISHING)
    if _is_set(source, "TWINE_PASSWORD") or not oidc:
        missing += [n for n in ("TWINE_USERNAME", "TWINE_PASSWORD") if not _is_set(source, n)]
        if missing or index_missing:
            raise ToolingError(
                f"{', '.join(missing + index_missing)} not set; export them (twine's variables "
                "and the index's simple API root), or publish from GitHub Actions with "
                "`id-token: write` (trusted publishing), or use --dry-run"
            )
        return "password"
    if missing or index_missing:
        raise ToolingError(
            f"{', '.join(missing + index_missing)} not set; trusted publishing needs twine's "
            f"upload URL ({_TRUSTED_UPLOAD[0]}) and the index's simple API root"
        )
    url = source["TWINE_REPOSITORY_URL"].strip()
    if not url.startswith(_TRUSTED_UPLOAD):
        raise ToolingError(redact(
            f"TWINE_REPOSITORY_URL is {url}: twine does trusted publishing (OIDC) only to "
            f"{' or '.join(_TRUSTED_UPLOAD)}; set TWINE_USERNAME and TWINE_PASSWORD for this index"
        ))
    user = source.get("TWINE_USERNAME", "").strip()
    if user not in {"", _TOKEN_USER}:
        raise ToolingError(
            f"TWINE_USERNAME is {user!r} with no TWINE_PASSWORD: trusted publishing needs "
            f"{_TOKEN_USER!r} (or unset); set TWINE_PASSWORD to upload as {user!r}"
        )
    return "trusted-publishing"
