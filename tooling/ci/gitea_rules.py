"""What Gitea Actions does not honour, found in a workflow file's YAML.

Each rule says why it matters and where Gitea says so; `tooling.ci.lint` runs them over every
`.gitea/` workflow (the `gitea` check).  Only what Gitea's documentation, code or issue tracker
shows is claimed here; docs/ci.md lists what is deliberately not checked, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from tooling.ci.yaml_model import WorkflowLoader

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_GITEA_VERSION",
    "GITEA_EVENTS",
    "GITEA_RULES",
    "Construct",
    "GiteaRule",
    "unsupported_constructs",
]

# The Gitea release every `.gitea/` workflow must work on unless `--gitea-version` says
# otherwise: 1.26 is the first that honours `concurrency` and `permissions`, which the release
# workflow relies on (one release at a time; a least-privilege job token).
DEFAULT_GITEA_VERSION = (1, 26)

# Trigger events Gitea fires: the table in Gitea's FAQ "What workflow trigger events does Gitea
# support?" (docs/content/usage/actions/faq.en-us.md) plus schedule, workflow_dispatch,
# workflow_call and workflow_run (go-gitea/gitea#24898, closed).  Gitea matches any other name
# against its own webhook event types (modules/actions/github.go `canGithubEventMatch`), which
# have no merge queue, check suite, deployment or discussion events: such a trigger never fires.
GITEA_EVENTS = frozenset({
    "create", "delete", "fork", "gollum", "push", "issues", "issue_comment", "pull_request",
    "pull_request_target", "pull_request_review", "pull_request_review_comment",
    "pull_request_comment", "release", "registry_package", "schedule", "workflow_dispatch",
    "workflow_call", "workflow_run",
})

# Sources, checked for this list (cite them when adding a rule):
# - https://docs.gitea.com/usage/actions/comparison ("Compared to GitHub Actions"; the pages for
#   1.20, 1.21, 1.22, 1.25, 1.26 and 1.27 were compared to date the `supported_since` entries)
# - https://docs.gitea.com/usage/actions/faq ("What workflow trigger events does Gitea support?")
# - https://github.com/go-gitea/gitea/issues/26383 (OIDC for Actions: open) and
#   https://github.com/go-gitea/gitea/pull/39052 (OIDC workload identity: open, unmerged)
# - go-gitea/gitea modules/actions/github.go and modules/webhook/type.go (event matching)
_COMPARISON = "Gitea docs, usage/actions/comparison"


@dataclass(frozen=True)
class GiteaRule:
    """A GitHub Actions construct Gitea Actions does not honour, and why that matters."""

    ident: str
    """Short name shown with each finding."""
    construct: str
    """Where it appears in a workflow."""
    reason: str
    """What goes wrong on Gitea."""
    source: str
    """Where Gitea says so."""
    supported_since: tuple[int, int] | None
    """The first Gitea release that honours it; None when none does."""


GITEA_RULES: tuple[GiteaRule, ...] = (
    GiteaRule("merge_group", "on.merge_group",
              "Gitea has no merge queue, so this trigger never fires",
              "Gitea FAQ trigger table; modules/webhook/type.go", None),
    GiteaRule("trigger", "on.<event> for an event outside GITEA_EVENTS",
              "not an event Gitea fires, so this trigger never runs the workflow",
              "Gitea FAQ trigger table; modules/actions/github.go", None),
    GiteaRule("id-token", "permissions: id-token: write (or write-all)",
              "Gitea issues no OIDC tokens, so trusted publishing cannot work; publish with a"
              " token secret", "go-gitea/gitea#26383 (open), PR #39052 (unmerged)", None),
    GiteaRule("environment", "jobs.<id>.environment",
              "ignored: its protection rules (required reviewers, branch rules) and secrets"
              " never apply", f"{_COMPARISON} (still listed for 1.27)", None),
    GiteaRule("runs-on", "jobs.<id>.runs-on as a mapping (group:/labels:)",
              "only `runs-on: label` or a list of labels is understood",
              f"{_COMPARISON} (still listed for 1.27)", None),
    GiteaRule("concurrency", "concurrency (workflow or job)",
              "ignored before Gitea 1.26: runs are not serialized or cancelled",
              f"{_COMPARISON} (listed up to 1.25)", (1, 26)),
    GiteaRule("permissions", "permissions (workflow or job)",
              "ignored before Gitea 1.26: the job token keeps its default scope",
              f"{_COMPARISON} (listed up to 1.25)", (1, 26)),
    GiteaRule("timeout-minutes", "jobs.<id>.timeout-minutes",
              "ignored before Gitea 1.27: a hung job is not stopped",
              f"{_COMPARISON} (listed up to 1.26)", (1, 27)),
    GiteaRule("continue-on-error", "jobs.<id>.continue-on-error",
              "ignored before Gitea 1.27: a failing job fails the run",
              f"{_COMPARISON} (listed up to 1.26)", (1, 27)),
    GiteaRule("run-name", "run-name", "ignored by older Gitea",
              f"{_COMPARISON} (listed up to 1.22, gone by 1.25)", (1, 25)),
    GiteaRule("hashFiles", "hashFiles() in an expression",
              "older Gitea evaluates it to an empty string (cache keys collide)",
              f"{_COMPARISON} (listed in 1.20/1.21, gone by 1.25)", (1, 25)),
    GiteaRule("workflow_dispatch", "on.workflow_dispatch", "ignored by older Gitea",
              f"{_COMPARISON} (listed in 1.20, gone by 1.25)", (1, 25)),
)
_RULES = {rule.ident: rule for rule in GITEA_RULES}


def _entries(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield str(key.value), key, value


def _get(node: yaml.Node | None, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key, key_node, value in _entries(node):
        if key == name:
            return key_node, value
    return None


def _scalars(node: yaml.Node) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key)
            yield from _scalars(value)


def _events(on: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    if isinstance(on, yaml.ScalarNode):
        yield str(on.value), on
    elif isinstance(on, yaml.SequenceNode):
        for item in on.value:
            if isinstance(item, yaml.ScalarNode):
                yield str(item.value), item
    else:
        for name, key_node, _ in _entries(on):
            yield name, key_node


def _trigger_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    on = _get(doc, "on")
    for name, node in _events(on[1]) if on else ():
        if name == "merge_group":
            yield "merge_group", node, "`on: merge_group`"
        elif name not in GITEA_EVENTS:
            yield "trigger", node, f"`on: {name}`"
        elif name == "workflow_dispatch":
            yield "workflow_dispatch", node, "`on: workflow_dispatch`"


def _key_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    for key in ("run-name", "concurrency", "permissions"):
        if found := _get(doc, key):
            yield key, found[0], f"`{key}:`"
    jobs = _get(doc, "jobs")
    for job, _, body in _entries(jobs[1] if jobs else None):
        for key in ("concurrency", "permissions", "timeout-minutes", "continue-on-error",
                    "environment"):
            if hit := _get(body, key):
                yield key, hit[0], f"job `{job}` `{key}:`"
        if (hit := _get(body, "runs-on")) and isinstance(hit[1], yaml.MappingNode):
            yield "runs-on", hit[0], f"job `{job}` `runs-on:` mapping"


def _id_token_findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    jobs = _get(doc, "jobs")
    scopes = [("workflow", doc)] + [
        (f"job `{job}`", body) for job, _, body in _entries(jobs[1] if jobs else None)
    ]
    for where, body in scopes:
        perms = _get(body, "permissions")
        value = perms[1] if perms else None
        if isinstance(value, yaml.ScalarNode) and value.value == "write-all":
            yield "id-token", value, f"{where} `permissions: write-all` grants id-token"
        elif (hit := _get(value, "id-token")) and getattr(hit[1], "value", None) == "write":
            yield "id-token", hit[0], f"{where} `id-token: write`"


def _findings(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    """(rule ident, node, detail) for every construct of GITEA_RULES in one workflow."""
    yield from _trigger_findings(doc)
    yield from _key_findings(doc)
    yield from _id_token_findings(doc)
    for scalar in _scalars(doc):
        if "hashFiles(" in str(scalar.value):
            yield "hashFiles", scalar, "`hashFiles()`"


@dataclass(frozen=True)
class Construct:
    """One use of a construct a Gitea release may not honour."""

    rule: GiteaRule
    """The rule it falls under."""
    line: int
    """Its 1-based line in the workflow file."""
    detail: str
    """What was found, e.g. `job `x` `environment:``."""


def unsupported_constructs(text: str, gitea_version: tuple[int, int]) -> tuple[Construct, ...]:
    """List what Gitea ``gitea_version`` does not honour in one workflow's YAML ``text``.

    Raises yaml.YAMLError when ``text`` is not YAML.
    """
    doc = yaml.compose(text, Loader=WorkflowLoader)
    found = [
        Construct(_RULES[ident], node.start_mark.line + 1, detail)
        for ident, node, detail in (_findings(doc) if doc is not None else ())
    ]
    return tuple(
        sorted(
            (c for c in found
             if c.rule.supported_since is None or gitea_version < c.rule.supported_since),
            key=lambda c: c.line,
        )
    )
