from __future__ import annotations

import textwrap

import pytest

import plugins_registry
from events import EventBus
from plugins_registry import (
    ENTRY_POINT_GROUP,
    PLUGIN_API_VERSION,
    Plugin,
    PluginContext,
    discover_plugins,
    load_plugins,
)

PLUGIN_SOURCE = """
class ShoutPlugin:
    name = "shout"
    api_version = {api}

    def register(self, context):
        context.add_tool("shout", str.upper)
        context.subscribe("task.completed", lambda event: None)


class OldPlugin(ShoutPlugin):
    name = "old"
    api_version = 0


class Broken:
    def register(self, context):
        raise RuntimeError("boom")


class Crashing(ShoutPlugin):
    name = "crashing"

    def register(self, context):
        raise RuntimeError("plugin bug")
"""


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch, request):
    """A distribution installed on sys.path declaring plugins through entry points."""
    module = f"demo_plugins_{request.node.name[-40:].replace('[', '_').replace(']', '_')}"
    (tmp_path / f"{module}.py").write_text(PLUGIN_SOURCE.format(api=PLUGIN_API_VERSION))
    dist_info = tmp_path / "demo_plugins-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugins\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [{ENTRY_POINT_GROUP}]
            shout = {module}:ShoutPlugin
            old = {module}:OldPlugin
            broken = {module}:Broken
            crashing = {module}:Crashing
            missing = {module}_not_there:Nope
            """
        )
    )
    monkeypatch.syspath_prepend(tmp_path)
    return module


def test_plugins_are_discovered_through_entry_points(installed_plugins):
    found = {info.name: info for info in discover_plugins()}
    assert {"shout", "old", "broken", "crashing", "missing"} <= set(found)
    assert isinstance(found["shout"].plugin, Plugin)
    assert found["shout"].distribution == "demo-plugins"
    assert found["shout"].error is None


def test_incompatible_or_broken_plugins_are_skipped_with_a_reason(installed_plugins):
    found = {info.name: info for info in discover_plugins()}
    assert found["old"].error == f"built for plugin API 0, the runtime has {PLUGIN_API_VERSION}"
    assert found["broken"].error.startswith("not a plugin")
    assert found["missing"].error.startswith("cannot load: ModuleNotFoundError")
    assert all(found[n].plugin is None for n in ("old", "broken", "missing"))


def test_loaded_plugins_register_tools_and_a_failing_one_is_reported(installed_plugins):
    context = PluginContext("ws-p", EventBus())
    results = {info.name: info for info in load_plugins(context, enabled=["shout", "crashing"])}
    assert set(results) == {"shout", "crashing"}
    assert context.tools["shout"]("hi") == "HI"
    assert results["crashing"].error == "register failed: plugin bug"


def test_a_tool_name_can_be_registered_once():
    context = PluginContext("ws-p", EventBus())
    context.add_tool("t", str)
    with pytest.raises(ValueError, match="already registered"):
        context.add_tool("t", str)


def test_public_api_of_the_plugin_registry_is_declared():
    assert {"PLUGIN_API_VERSION", "Plugin", "PluginContext", "discover_plugins"} <= set(
        plugins_registry.__all__
    )
    assert all(hasattr(plugins_registry, name) for name in plugins_registry.__all__)
