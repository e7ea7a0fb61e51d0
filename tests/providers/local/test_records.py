"""Records: atomic JSON files keyed by a validated deployment id, and the records lock."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from flowllama.errors import ProvisioningFailed
from flowllama.providers.local.records import LocalRecord, RecordStore, StopReason


def _record(deployment_id: str = "d1", **changes: object) -> LocalRecord:
    record = LocalRecord(
        deployment_id=deployment_id, user_id="u1", name="chat", model="local/tiny",
        requested_runtime="auto", runtime="llamacpp", context_size=512, parallel=2,
        boot_id="boot", pid=1234, start_time=5678, port=8081,
        endpoint_url="http://127.0.0.1:8081", openai_base_url="http://127.0.0.1:8081/v1",
        health_url="http://127.0.0.1:8081/v1/models", log_path="/logs/d1.log",
        needed_bytes=10**9,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def test_save_then_load_round_trips_and_stamps_the_time(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records")
    saved = store.save(_record())
    assert saved.updated_at
    assert store.load("d1") == saved
    assert [path.name for path in (tmp_path / "records").iterdir()] == ["d1.json"]


def test_a_stopped_record_keeps_the_spec_but_no_process(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    stopped = store.save(_record().as_stopped(StopReason.SHUTDOWN))
    loaded = store.load("d1")
    assert loaded == stopped
    assert loaded.stopped_by is StopReason.SHUTDOWN
    assert (loaded.pid, loaded.start_time) == (None, None)
    spec = loaded.spec()
    assert (spec.deployment_id, spec.model, spec.context_size, spec.parallel, spec.runtime) == (
        "d1", "local/tiny", 512, 2, "auto")
    assert (spec.cloud, spec.gpu) == ("local", "none")


def test_missing_and_unreadable_records_read_as_none(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    assert store.load("d1") is None
    assert store.all() == []
    store.save(_record("good"))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "old.json").write_text('{"deployment_id": "old"}')  # fields missing
    (tmp_path / ".d1.json.tmp").write_text("{}")  # a temporary file of an interrupted save
    assert store.load("broken") is None
    assert [record.deployment_id for record in store.all()] == ["good"]


def test_delete_is_idempotent(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    store.save(_record())
    store.delete("d1")
    store.delete("d1")
    assert store.load("d1") is None


@pytest.mark.parametrize("bad", ["../d1", "D1", "", "a/b", ".lock", "-x", "x" * 61])
def test_ids_that_could_escape_the_directory_are_refused(tmp_path: Path, bad: str) -> None:
    store = RecordStore(tmp_path)
    with pytest.raises(ValueError):
        store.path(bad)
    with pytest.raises(ValueError):
        store.save(_record(bad))


def test_the_lock_excludes_other_holders_and_times_out(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(ProvisioningFailed, match="busy"), store.lock(timeout_s=0.3):
            pass
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(10)
    with store.lock(timeout_s=1):  # free again once released
        pass
