"""The one definition of the CI workflows: ci, release and drift.

Each workflow is a plain mapping; a difference between GitHub and Gitea is a `PerForge` value
here, never a hand edit of a generated file.  tooling/ci/workflows.py renders, writes and
checks the files (docs/ci.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tooling.ci.yaml_model import OMIT, Commented, Node, PerForge, Pinned

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tooling.ci.settings import Settings

__all__ = ["CHECKOUT", "SETUP_COMMAND", "SETUP_PYTHON", "definitions"]

# The README's set-up, verbatim: CI installs the project exactly the way users do.
SETUP_COMMAND = "python -m pip install -U pip && python -m pip install --group dev"

# Looked up from the actions' release tags; bump both fields together.
CHECKOUT = Pinned("actions/checkout", "de0fac2e4500dabe0009e67214ff5f5447ce83dd", "v6.0.2")
SETUP_PYTHON = Pinned("actions/setup-python", "a309ff8b426b58ec0e2a45f0f869d46889d02405", "v6.2.0")


def _setup(python: str, *, full_history: bool = False) -> list[Node]:
    checkout: dict[str, Node] = {"persist-credentials": False}
    if full_history:
        # The API diff and the release compare against the last release tag.
        checkout["fetch-depth"] = 0
    return [
        {"name": "Check out", "uses": CHECKOUT, "with": checkout},
        {"name": "Set up Python", "uses": SETUP_PYTHON, "with": {"python-version": python}},
        {"name": "Install the project (the README set-up)", "run": SETUP_COMMAND},
    ]


_READ_ONLY: Mapping[str, Node] = {"contents": Commented("read", "check out the repository")}


def _serialize(settings: Settings, group: str, *, cancel: bool) -> Node:
    # Gitea before 1.26 ignores `concurrency`; leaving it out says so in the file itself.
    value: dict[str, Node] = {"group": group, "cancel-in-progress": cancel}
    return PerForge(github=value, gitea=OMIT if settings.gitea_legacy else value)


def _ci_triggers(settings: Settings) -> dict[str, Node]:
    if not settings.paths:
        return {"push": {"branches": ["**"]}, "pull_request": {}}
    # Only changes to what the runtime is made from, or to the pipeline, run its CI.
    paths = list(settings.paths)
    return {"push": {"branches": ["**"], "paths": paths}, "pull_request": {"paths": paths}}


def _ci(settings: Settings) -> dict[str, Node]:
    return {
        "name": f"{settings.prefix}ci",
        "on": _ci_triggers(settings),
        "permissions": {},
        # A newer push to the same branch or pull request supersedes a running check.
        "concurrency": _serialize(settings, f"{settings.prefix}ci-${{{{ github.ref }}}}",
                                  cancel=True),
        "jobs": {
            "lint-tests": {
                "name": "lint and tests",
                "runs-on": "ubuntu-latest",
                "permissions": _READ_ONLY,
                "steps": [
                    *_setup(settings.default_python),
                    {"name": "Lint and test", "run": "nox -s lint tests"},
                ],
            },
            "build-smoke": {
                "name": "build and smoke on Python ${{ matrix.python }}",
                "runs-on": "ubuntu-latest",
                "permissions": _READ_ONLY,
                "strategy": {"fail-fast": False, "matrix": {"python": list(settings.pythons)}},
                "steps": [
                    *_setup("${{ matrix.python }}"),
                    {"name": "Build and smoke-test the wheel", "run": "nox -s build smoke"},
                ],
            },
            "api-diff": {
                "name": "public API diff",
                "if": "github.event_name == 'pull_request'",
                "runs-on": "ubuntu-latest",
                "permissions": _READ_ONLY,
                "steps": [
                    *_setup(settings.default_python, full_history=True),
                    {
                        "name": "Diff the public API against the last release",
                        "run": "nox -s api-diff -- --format github",
                    },
                ],
            },
        },
    }


def _release(settings: Settings) -> dict[str, Node]:
    env: dict[str, Node] = {
        # Index to read the release back from, and to read the latest version for pins.
        "RUNTIME_INDEX_URL": "${{ secrets.RUNTIME_INDEX_URL }}",
        # Pushes the pin bumps to the consumer repositories.
        "CASCADE_TOKEN": "${{ secrets.CASCADE_TOKEN }}",
        # The dispatch input (empty on a tag push: the commits decide), read by
        # tooling/versioning/plan.py.  Gitea before 1.26 has no dispatch inputs.
        "RELEASE_BUMP": PerForge(github="${{ inputs.bump }}",
                                 gitea=OMIT if settings.gitea_legacy else "${{ inputs.bump }}"),
        # Pushes the version commit and tag to this repository: checkout keeps no credentials,
        # so tooling/gitauth.py sends this token as a header to origin only (never in a URL).
        # Gitea: a token secret that may push to the release branch, else the job's token.
        "GITHUB_TOKEN": PerForge(github="${{ github.token }}",
                                 gitea="${{ secrets.RELEASE_TOKEN || github.token }}"),
        # GitHub: trusted publishing (OIDC).  twine (6.1+) mints a short-lived upload token
        # itself when the upload URL is pypi.org's or test.pypi.org's, the username is
        # __token__ and no password is set, so none may be set here; the URL must be set
        # because the release never falls back to twine's default index silently.
        # Gitea has no OIDC issuer (tooling/ci/gitea_rules.py), so it uploads with a token.
        "TWINE_USERNAME": PerForge(github="__token__", gitea="${{ vars.TWINE_USERNAME }}"),
        "TWINE_PASSWORD": PerForge(github=OMIT, gitea="${{ secrets.TWINE_PASSWORD }}"),
        "TWINE_REPOSITORY_URL": PerForge(
            github="${{ vars.TWINE_REPOSITORY_URL || 'https://upload.pypi.org/legacy/' }}",
            gitea="${{ vars.TWINE_REPOSITORY_URL }}",
        ),
    }
    dispatch: dict[str, Node] = {"inputs": {
        "bump": {
            "description": "Raise the bump above what the commits ask for (never lowers it)",
            "type": "choice",
            "options": ["", "patch", "minor", "major"],
            "default": "",
        },
        "dev": {
            "description": "Publish the next X.Y.Z.devN of the planned version instead"
                           " (no tag, no cascade)",
            "type": "boolean",
            "default": False,
        },
    }}
    workflow: dict[str, Node] = {
        "name": f"{settings.prefix}release",
        "on": {
            "push": {"tags": [f"{settings.tag_prefix}*"]},
            "workflow_dispatch": PerForge(github=dispatch,
                                          gitea={} if settings.gitea_legacy else dispatch),
        },
        "permissions": {},
        # Two releases never run at once, and a running one is never cancelled half-way.
        # Where the forge ignores this (Gitea before 1.26) the release's lock and its atomic
        # push of the branch and tag still let only one release win (docs/ci.md).
        "concurrency": _serialize(settings, f"{settings.prefix}release", cancel=False),
        "jobs": {
            "release": {
                "name": "invoke release",
                "runs-on": "ubuntu-latest",
                # GitHub: the trusted publisher is bound to this environment, whose protection
                # rules gate the release.  Gitea ignores `environment:`, so it is left out.
                "environment": PerForge(github="release", gitea=OMIT),
                "permissions": {
                    "contents": Commented("write", "push the version commit and the tag"),
                    # Gitea issues no OIDC tokens, so asking for one there is an error.
                    "id-token": PerForge(
                        github=Commented("write", "trusted publishing: twine mints a token"),
                        gitea=OMIT,
                    ),
                },
                "steps": PerForge(
                    github=_release_steps(settings, env, dispatch_inputs=True),
                    gitea=_release_steps(settings, env, dispatch_inputs=not settings.gitea_legacy),
                ),
            },
        },
    }
    return _release_on_merge(workflow, settings) if settings.release_on_merge else workflow


def _release_steps(
    settings: Settings, env: dict[str, Node], *, dispatch_inputs: bool
) -> list[Node]:
    """The release job's steps; the dev release needs the dispatch's `dev` input."""
    setup = _setup(settings.default_python, full_history=True)
    if not dispatch_inputs:  # Gitea before 1.26: no inputs, so no dev release from the UI
        return [*setup, {"name": "Release", "run": "invoke release --yes", "env": env}]
    return [
        *setup,
        {"name": "Release", "if": "${{ !inputs.dev }}", "run": "invoke release --yes",
         "env": env},
        {"name": "Dev release", "if": "${{ inputs.dev }}",
         "run": "invoke release --yes --dev", "env": env},
    ]


def _release_on_merge(workflow: dict[str, Node], settings: Settings) -> dict[str, Node]:
    """Also release on a push to the release branch that touches the runtime (docs/release.md).

    The push trigger gains the branch and the runtime's paths (GitHub and Gitea skip `paths`
    for tag pushes, so tags still always run); such a push runs `invoke release --on-merge`,
    which reads the merged pull requests' labels and holds an unconfirmed major.
    """
    job = cast("dict[str, dict[str, Node]]", workflow["jobs"])["release"]
    per_forge = cast("PerForge", job["steps"])
    cast("dict[str, Node]", workflow["on"])["push"] = {
        "branches": [settings.release_branch],
        "tags": [f"{settings.tag_prefix}*"],
        "paths": list(settings.runtime_paths),
    }
    cast("dict[str, Node]", job["permissions"])["pull-requests"] = Commented(
        "write", "read the merged pull requests' labels; comment on a held major")
    merged = "github.event_name == 'push' && github.ref_type == 'branch'"
    for steps in (cast("list[dict[str, Node]]", per_forge.github),
                  cast("list[dict[str, Node]]", per_forge.gitea)):
        at = next(i for i, s in enumerate(steps) if s.get("name") == "Release")
        release = steps[at]
        shown = "!inputs.dev && " if "if" in release else ""
        steps[at] = {**release, "if": f"${{{{ {shown}!({merged}) }}}}"}
        steps.insert(at + 1, {**release, "name": "Release on merge",
                              "if": f"${{{{ {merged} }}}}",
                              "run": "invoke release --yes --on-merge"})
    return workflow


# `fix` off by default: a scheduled run only reports; a person dispatches the heal.
_DRIFT_DISPATCH: dict[str, Node] = {"inputs": {"fix": {
    "description": "Also heal: cascade the lagging consumers, then converge them",
    "type": "boolean",
    "default": False,
}}}


def _drift(settings: Settings) -> dict[str, Node]:
    return {
        "name": f"{settings.prefix}drift",
        "on": {"schedule": [{"cron": "17 6 * * *"}], "workflow_dispatch": PerForge(
            github=_DRIFT_DISPATCH, gitea={} if settings.gitea_legacy else _DRIFT_DISPATCH,
        )},
        "permissions": {},
        "concurrency": _serialize(settings, f"{settings.prefix}drift", cancel=False),
        "jobs": {
            "drift": {
                "name": "consumers lagging the latest release",
                "runs-on": "ubuntu-latest",
                "permissions": _READ_ONLY,
                "steps": [
                    *_setup(settings.default_python),
                    {
                        "name": "Report drift",
                        # Off unless the dispatch asks: a scheduled run only reports.
                        "run": 'if [ "$DRIFT_FIX" = true ]; then invoke drift --fix; '
                               "else invoke drift; fi",
                        "env": {
                            "RUNTIME_INDEX_URL": "${{ secrets.RUNTIME_INDEX_URL }}",
                            "CASCADE_TOKEN": "${{ secrets.CASCADE_TOKEN }}",
                            "DRIFT_FIX": PerForge(
                                github="${{ inputs.fix }}",
                                gitea=OMIT if settings.gitea_legacy else "${{ inputs.fix }}",
                            ),
                        },
                    },
                ],
            },
        },
    }


def definitions(settings: Settings) -> dict[str, Mapping[str, Node]]:
    """Every workflow by file stem, with the forge differences still in as `PerForge` values."""
    return {"ci": _ci(settings), "release": _release(settings), "drift": _drift(settings)}

