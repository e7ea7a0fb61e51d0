"""The results store: a directory and S3 (moto's server on loopback, real boto3). A run is
written whole or not at all; listing shows complete runs only, newest first."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.errors import Conflict, InvalidInput, NotFound
from flowllama.loadtest.store import (
    RUN_ID,
    FileStore,
    ResultsStore,
    RunRef,
    StoreUnavailable,
    new_run_id,
    open_store,
    target_slug,
)


def _files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("stats.csv", "stats_history.csv", "failures.csv", "exceptions.csv"):
        path = tmp_path / f"src-{name}"
        path.write_text(f"{name},header\n1,2\n")
        files[name] = path
    return files


def _summary(run_id: str) -> dict[str, Any]:
    return {"schema_version": 1, "run_id": run_id, "totals": {"requests": 3}}


def _round_trip(store: ResultsStore, tmp_path: Path) -> None:
    older = new_run_id(datetime(2026, 12, 5, 3, 0, tzinfo=UTC))
    newer = new_run_id(datetime(2026, 12, 5, 4, 0, tzinfo=UTC))
    for run_id in (older, newer):
        ref = store.write_run("My Deploy", run_id, _files(tmp_path), _summary(run_id))
        assert ref == RunRef("my-deploy", run_id)
    store.write_run("other", new_run_id(), _files(tmp_path), _summary("x"))

    assert [r.run_id for r in store.list_runs("my-deploy")] == [newer, older]
    assert store.list_runs("My Deploy", limit=1) == [RunRef("my-deploy", newer)]
    assert len(store.list_runs()) == 3
    assert store.targets() == ["my-deploy", "other"]
    assert store.read_summary(RunRef("my-deploy", older)) == _summary(older)
    assert RunRef("my-deploy", newer).started_at == datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    with pytest.raises(Conflict):
        store.write_run("my-deploy", older, {}, _summary(older))
    with pytest.raises(NotFound):
        store.read_summary(RunRef("my-deploy", new_run_id()))
    with pytest.raises(NotFound):
        store.file_url_or_bytes(RunRef("my-deploy", older), "../../etc/passwd")


def test_file_store_round_trip(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path / 'results'}")
    _round_trip(store, tmp_path)
    ref = store.list_runs("my-deploy")[0]
    assert store.file_url_or_bytes(ref, "stats.csv") == b"stats.csv,header\n1,2\n"
    with pytest.raises(NotFound):
        store.file_url_or_bytes(ref, "missing.csv")


def test_file_store_never_shows_a_partial_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    store = FileStore(tmp_path / "results")
    files = _files(tmp_path)
    files["broken.csv"] = tmp_path / "does-not-exist.csv"  # the copy fails half-way
    run_id = new_run_id()
    with pytest.raises(FileNotFoundError):
        store.write_run("t", run_id, files, _summary(run_id))
    assert store.list_runs() == []
    assert list((tmp_path / "results" / "t").iterdir()) == []  # staging removed
    # A run killed before the rename leaves only a hidden staging directory: never listed.
    (tmp_path / "results" / "t" / f".partial-{run_id}-x").mkdir()
    (tmp_path / "results" / "t" / f".partial-{run_id}-x" / "summary.json").write_text("{}")
    assert store.list_runs() == [] and store.targets() == ["t"]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}")
    with pytest.raises(InvalidInput) as bad_id:
        store.write_run("t", "yesterday", {}, {})
    assert bad_id.value.field == "run_id"
    with pytest.raises(InvalidInput):
        store.write_run("t", new_run_id(), {"../x": tmp_path}, {})
    with pytest.raises(InvalidInput) as nan:
        store.write_run("t", new_run_id(), {}, {"p50": math.nan})
    assert nan.value.field == "summary"
    for url in ("http://x", "gs://bucket/p", "s3://Bad_Bucket/p", "file://"):
        with pytest.raises(InvalidInput) as refused:
            open_store(url)
        assert refused.value.field == "results"
    with pytest.raises(InvalidInput):
        target_slug("---")
    assert RUN_ID.match(new_run_id())


def test_s3_store_round_trip(s3_bucket: str, tmp_path: Path) -> None:
    store = open_store(f"s3://{s3_bucket}/runs/prod")
    _round_trip(store, tmp_path)
    ref = store.list_runs("my-deploy")[0]
    url = store.file_url_or_bytes(ref, "stats.csv")
    assert isinstance(url, str)
    assert httpx.get(url).content == b"stats.csv,header\n1,2\n"  # presigned, fetched for real


def test_s3_killed_run_leaves_no_summary(s3_bucket: str, s3_client: Any, tmp_path: Path
                                         ) -> None:
    class KilledAfterOnePut:
        """The real client, killed (KeyboardInterrupt) right after its first file put."""

        def __init__(self) -> None:
            self.puts = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(s3_client, name)

        def upload_file(self, *args: Any) -> None:
            if self.puts == 1:
                raise KeyboardInterrupt
            s3_client.upload_file(*args)
            self.puts += 1

    killed = open_store(f"s3://{s3_bucket}/runs", s3_client=KilledAfterOnePut())
    run_id = new_run_id()
    with pytest.raises(KeyboardInterrupt):
        killed.write_run("t", run_id, _files(tmp_path), _summary(run_id))
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == [f"runs/t/{run_id}/stats.csv"]  # half a run is there ...
    store = open_store(f"s3://{s3_bucket}/runs")
    assert store.list_runs() == []  # ... but it is not a run
    with pytest.raises(NotFound):
        store.read_summary(RunRef("t", run_id))
    with pytest.raises(NotFound):
        store.file_url_or_bytes(RunRef("t", run_id), "stats.csv")


def test_s3_errors_are_store_errors(aws_env: None) -> None:
    store = open_store("s3://no-such-bucket-here/runs")
    with pytest.raises(StoreUnavailable, match="NoSuchBucket"):
        store.list_runs()
