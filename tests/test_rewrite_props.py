"""Properties over generated import code: idempotent, exact, fast path == full libcst path."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from tooling.rewrite import rewrite_source
from tooling.rewrite._fallback import _full

WORKSPACE = ("config", "heartbeat", "builtin_tools", "a")
OTHERS = ("os", "json", "configparser", "heartbeats", "yaml")
PKG = "molecule_runtime"
NAMES = frozenset(WORKSPACE)

dotted = st.builds(
    lambda head, tail: ".".join((head, *tail)),
    st.sampled_from(WORKSPACE + OTHERS),
    st.lists(st.sampled_from(("memory", "b", "sub", "x")), max_size=2),
)
alias = st.builds(
    lambda name, asname: f"{name} as {asname}" if asname else name,
    dotted, st.sampled_from(("", "c", "m")),
)
space = st.sampled_from((" ", "  ", " \\\n    "))
comment = st.sampled_from(("", "  # note", "  # import config"))


@st.composite
def statement(draw: st.DrawFn) -> str:  # noqa: PLR0911 - one return per statement kind
    kind = draw(st.sampled_from(("import", "from", "paren", "call", "patch", "sysmod", "str")))
    if kind == "import":
        aliases = draw(st.lists(alias, min_size=1, max_size=3))
        return f"import{draw(space)}{', '.join(aliases)}{draw(comment)}"
    names = draw(st.lists(st.sampled_from(("x", "y", "z as w")), min_size=1, max_size=3))
    if kind == "from":
        level = draw(st.sampled_from(("", "", ".", "..")))
        return f"from{draw(space)}{level}{draw(dotted)} import {', '.join(names)}{draw(comment)}"
    if kind == "paren":
        body = "".join(f"\n    {n},{draw(comment)}" for n in names)
        return f"from {draw(dotted)} import ({body}\n)"
    if kind == "call":
        return f'm = importlib.import_module("{draw(dotted)}"){draw(comment)}'
    if kind == "patch":
        return f'p = mock.patch("{draw(dotted)}.attr"){draw(comment)}'
    if kind == "sysmod":
        return f'sys.modules["{draw(dotted)}"] = None{draw(comment)}'
    return f'log = "{draw(dotted)} is {draw(dotted)}"'


@st.composite
def module(draw: st.DrawFn) -> str:
    lines = draw(st.lists(statement(), min_size=1, max_size=6))
    if draw(st.booleans()):
        lines = ["def f():", *(f"    {line}".replace("\n", "\n    ") for line in lines)]
    newline = draw(st.sampled_from(("\n", "\r\n")))
    return newline.join(lines).replace("\n", newline).replace("\r\r\n", "\r\n") + newline


@settings(max_examples=150, deadline=None, database=None)
@given(module())
def test_rewriting_is_idempotent_and_matches_the_full_libcst_path(code: str) -> None:
    data = code.encode()
    first = rewrite_source(data, NAMES, PKG)
    assert first.problems == ()
    assert rewrite_source(first.code, NAMES, PKG).code == first.code
    ast.parse(first.code)  # the output is valid Python
    full, _, _ = _full(code, NAMES, PKG)
    assert first.code == full.encode()


@settings(max_examples=100, deadline=None, database=None)
@given(module())
def test_files_without_workspace_names_never_change(code: str) -> None:
    assert rewrite_source(code.encode(), frozenset({"unrelated_name"}), PKG).code == code.encode()
