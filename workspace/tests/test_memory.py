from __future__ import annotations

import sqlite3
import threading

import pytest

import builtin_tools.memory
from builtin_tools.audit import AuditLog, read_audit
from builtin_tools.memory import MemoryStore, MemoryStoreError, store


@pytest.fixture
def memory(tmp_path):
    with MemoryStore(tmp_path / "mem" / "memory.sqlite3") as mem:
        yield mem


def test_store_then_recall_round_trips_json_values(memory):
    memory.store("plan", {"steps": [1, 2], "done": False})
    item = memory.recall("plan")
    assert item is not None
    assert item.value == {"steps": [1, 2], "done": False}
    assert item.namespace == "default"
    assert memory.recall("missing") is None


def test_storing_again_replaces_the_value_and_keeps_created_at(memory):
    first = memory.store("k", 1)
    second = memory.store("k", 2)
    assert memory.recall("k").value == 2
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at


def test_namespaces_keep_keys_apart(memory):
    memory.store("k", "a", namespace="one")
    memory.store("k", "b", namespace="two")
    assert memory.recall("k", namespace="one").value == "a"
    assert memory.recall("k", namespace="two").value == "b"
    assert memory.stats() == {"one": 1, "two": 1}


def test_search_matches_keys_and_values_and_treats_wildcards_literally(memory):
    memory.store("greeting", "Hello world")
    memory.store("percent", "100% sure")
    memory.store("other", "nothing")
    assert [i.key for i in memory.search("hello")] == ["greeting"]
    assert [i.key for i in memory.search("%")] == ["percent"]
    assert {i.key for i in memory.search("e", limit=10)} == {"greeting", "percent", "other"}
    assert len(memory.search("e", limit=2)) == 2


def test_forget_reports_whether_the_key_existed(memory):
    memory.store("k", 1)
    assert memory.forget("k") is True
    assert memory.forget("k") is False
    assert memory.keys() == []


def test_memory_survives_reopening_the_database(tmp_path):
    path = tmp_path / "memory.sqlite3"
    with MemoryStore(path) as mem:
        mem.store("persist", [1, 2, 3])
    with MemoryStore(path) as mem:
        assert mem.recall("persist").value == [1, 2, 3]


def test_a_database_from_a_newer_runtime_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(MemoryStoreError, match="schema 99, newer than 1"):
        MemoryStore(path)


def test_a_file_that_is_not_a_database_is_reported_by_path(tmp_path):
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MemoryStoreError, match=f"memory store {path}: file is not a database"):
        MemoryStore(path)


def test_concurrent_writers_lose_nothing(memory):
    def write(worker):
        for n in range(25):
            memory.store(f"w{worker}-{n}", n)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(memory.keys()) == 100


def test_module_level_helpers_use_the_configured_store(tmp_path):
    path = tmp_path / "default.sqlite3"
    builtin_tools.memory.configure(path)
    store("note", "kept")
    assert builtin_tools.memory.recall("note").value == "kept"
    builtin_tools.memory.configure(None)  # closes the store it opened
    with MemoryStore(path) as mem:
        assert mem.recall("note").value == "kept"


def test_module_level_helpers_fall_back_to_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "env.sqlite3"
    monkeypatch.setenv("MOLECULE_MEMORY_PATH", str(path))
    monkeypatch.setattr("builtin_tools.memory._default_store", None)
    builtin_tools.memory.store("k", "v")
    assert builtin_tools.memory.default_store().path == str(path)


def test_a_store_handed_to_configure_is_not_closed_by_it(memory):
    builtin_tools.memory.configure(memory)
    builtin_tools.memory.configure(None)
    assert memory.store("still", "open").value == "open"


def test_audit_log_appends_json_lines_without_content_or_secrets(tmp_path):
    path = tmp_path / "audit" / "audit.jsonl"
    audit = AuditLog(path)
    audit.record("task", task_id="t1", outcome="completed", text="the message", token="s3cr3t")
    audit.record("task", task_id="t2", outcome="denied")
    records = read_audit(path)
    assert [r["task_id"] for r in records] == ["t1", "t2"]
    assert "s3cr3t" not in path.read_text()
    assert "the message" not in path.read_text()
    assert audit.records("task")[1]["outcome"] == "denied"
