from __future__ import annotations

import importlib
import sys
import types
from unittest.mock import patch

import pytest

import adapters.base
from adapters import available_adapters, get_adapter
from adapters.base import (
    ADAPTER_PROTOCOL_VERSION,
    AdapterConfig,
    AdapterError,
    BaseAdapter,
    RuntimeCapabilities,
    TaskContext,
    TaskRequest,
    TaskResult,
)


class TemplateAdapter(BaseAdapter):
    """What a template repository ships: its own adapter module exporting `Adapter`."""

    def handle_task(self, request, context):
        return TaskResult(text=request.text.upper())


def _stub_module(name, **attrs):
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def test_echo_is_a_built_in_adapter():
    assert "echo" in available_adapters()
    assert "base" not in available_adapters()


def test_configured_runtime_name_picks_the_built_in_adapter():
    echo = get_adapter("echo", env={})
    assert echo is importlib.import_module("adapters.echo").Adapter
    assert echo.name() == "echo"
    assert echo.protocol_version == ADAPTER_PROTOCOL_VERSION


def test_adapter_module_env_wins_over_the_runtime_name(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "template_adapter", _stub_module("template_adapter", Adapter=TemplateAdapter)
    )
    monkeypatch.setenv("ADAPTER_MODULE", "template_adapter")
    assert get_adapter("echo") is TemplateAdapter


def test_adapter_module_without_adapter_attribute_says_what_to_export(monkeypatch):
    monkeypatch.setitem(sys.modules, "empty_adapter", _stub_module("empty_adapter"))
    with pytest.raises(
        AdapterError, match="has no `Adapter` attribute; export your BaseAdapter subclass"
    ):
        get_adapter(None, env={"ADAPTER_MODULE": "empty_adapter"})


def test_adapter_module_that_fails_to_import_is_reported(tmp_path, monkeypatch):
    (tmp_path / "needs_missing_dep.py").write_text("import surely_not_installed_dependency_xyz\n")
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(AdapterError, match="ADAPTER_MODULE: cannot import 'needs_missing_dep'"):
        get_adapter("echo", env={"ADAPTER_MODULE": "needs_missing_dep"})


def test_adapter_for_another_protocol_version_is_refused(monkeypatch):
    class FutureAdapter(TemplateAdapter):
        protocol_version = ADAPTER_PROTOCOL_VERSION + 1

    monkeypatch.setitem(
        sys.modules, "future_adapter", _stub_module("future_adapter", Adapter=FutureAdapter)
    )
    with pytest.raises(AdapterError, match="built for adapter protocol 2, this runtime speaks 1"):
        get_adapter(None, env={"ADAPTER_MODULE": "future_adapter"})


def test_adapter_not_subclassing_base_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "duck_adapter", _stub_module("duck_adapter", Adapter=object))
    with pytest.raises(AdapterError, match="must be a subclass of BaseAdapter"):
        get_adapter(None, env={"ADAPTER_MODULE": "duck_adapter"})


@pytest.mark.parametrize("runtime", ["nope", "../echo", "base"])
def test_unknown_runtime_lists_the_built_in_adapters(runtime):
    with pytest.raises(
        AdapterError, match=r"runtime: unknown adapter .*; built-in adapters are .*echo"
    ):
        get_adapter(runtime, env={})


def test_no_runtime_and_no_adapter_module_says_how_to_configure_one():
    with pytest.raises(AdapterError, match="runtime: no adapter configured"):
        get_adapter(None, env={})


def test_built_in_adapter_that_fails_to_import_is_reported():
    with (
        patch.dict(sys.modules, {"adapters.echo": None}),
        pytest.raises(AdapterError, match="failed to import"),
    ):
        get_adapter("echo", env={})


def test_echo_adapter_returns_the_text_unchanged_and_counts():
    echo = get_adapter("echo", env={})(AdapterConfig("ws", "echo"))
    result = echo.handle_task(TaskRequest(task_id="t", text="ping"), TaskContext())
    assert result == TaskResult(text="ping")
    assert echo.snapshot() == {"handled": 1}


def test_echo_adapter_prefix_setting():
    echo = get_adapter("echo", env={})(AdapterConfig("ws", "echo", settings={"prefix": "> "}))
    assert echo.handle_task(TaskRequest(task_id="t", text="hi"), TaskContext()).text == "> hi"


def test_base_adapter_defaults_describe_the_adapter():
    adapter = TemplateAdapter(AdapterConfig("ws", "template"))
    assert adapter.capabilities() == RuntimeCapabilities()
    assert TemplateAdapter.description().startswith("What a template repository ships")
    assert TemplateAdapter.get_config_schema()["type"] == "object"
    assert adapter.snapshot() == {}


def test_public_api_of_the_adapter_base_is_declared():
    assert set(adapters.base.__all__) >= {
        "ADAPTER_PROTOCOL_VERSION",
        "AdapterConfig",
        "BaseAdapter",
        "RuntimeCapabilities",
    }
    assert all(hasattr(adapters.base, name) for name in adapters.base.__all__)
