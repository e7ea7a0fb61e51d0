"""Where load-test runs are kept: a ``file://`` directory or an ``s3://bucket/prefix``.

Layout of one run (the contract the dashboard, the API and the Helm CronJob share)::

    <root>/<target-slug>/<run-id>/summary.json      written LAST; its presence = a complete run
    <root>/<target-slug>/<run-id>/stats.csv, stats_history.csv, failures.csv, exceptions.csv

``run-id`` is the UTC start ``YYYYMMDDTHHMMSSZ-<8 hex>``, so names sort by time. A run is
written so that a partial one never looks complete: the file store writes into a hidden
temporary directory and renames it into place; the S3 store puts ``summary.json`` only after
every other object is in. Listing returns complete runs only, newest first.

Interface (sync): :func:`open_store` ``(url) -> ResultsStore``;
``store.write_run(target, run_id, files, summary) -> RunRef``;
``store.list_runs(target=None, limit=200) -> list[RunRef]``; ``store.read_summary(ref) -> dict``;
``store.file_url_or_bytes(ref, name) -> str | bytes`` (bytes from a directory, a presigned
URL from S3); ``store.targets() -> list[str]``.

boto3 is imported only when an ``s3://`` store is opened (``flowllama[aws]``); it reads the
standard credential chain and honours ``AWS_ENDPOINT_URL_S3`` (tests point it at moto).
``gs://`` is not built: opening one is a clear error, not a silent fallback.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from flowllama.errors import ConfigError, Conflict, FlowLlamaError, InvalidInput, NotFound

P = ParamSpec("P")
R = TypeVar("R")
SUMMARY = "summary.json"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
# Names a run's raw files may have: plain names, no directories, no hidden files.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PRESIGNED_URL_TTL_S = 900


class StoreUnavailable(FlowLlamaError):
    """The store could not be reached or refused the call (credentials, network, bucket)."""


def _s3_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turns boto3's own errors into :class:`StoreUnavailable` (ours pass through)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"S3 results store: {exc}") from exc

    return call


@dataclass(frozen=True, order=True)
class RunRef:
    """One stored run: its target's slug and its run id (which sorts by start time)."""

    target: str
    run_id: str

    @property
    def started_at(self) -> datetime:
        """The UTC start time encoded in the run id."""
        return datetime.strptime(self.run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def new_run_id(started: datetime | None = None) -> str:
    """A run id for a run starting at ``started`` (UTC now by default)."""
    moment = (started or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def target_slug(name: str) -> str:
    """The directory name of a target: lower case, ``[a-z0-9-]``, at most 63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not slug:
        raise InvalidInput(f"target name {name!r} has no letters or digits", field="target")
    return slug


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """``summary`` as JSON; NaN or infinity is refused (the schema says ``null`` instead)."""
    try:
        return json.dumps(summary, indent=2, allow_nan=False).encode()
    except ValueError as exc:
        raise InvalidInput(f"summary has a non-finite number: {exc}", field="summary") from exc


class ResultsStore(ABC):
    """The store behind ``--results``: writes runs atomically, lists complete ones."""

    url: str

    @abstractmethod
    def write_run(self, target: str, run_id: str, files: dict[str, Path],
                  summary: dict[str, Any]) -> RunRef:
        """Store ``files`` (name -> local path) then ``summary`` as one complete run."""

    @abstractmethod
    def list_runs(self, target: str | None = None, limit: int = 200) -> list[RunRef]:
        """Complete runs, newest first, of one target (a name or slug) or of all."""

    @abstractmethod
    def read_summary(self, ref: RunRef) -> dict[str, Any]:
        """The run's ``summary.json``; :class:`NotFound` if there is no complete run."""

    @abstractmethod
    def file_url_or_bytes(self, ref: RunRef, name: str) -> str | bytes:
        """One of the run's files: its bytes, or a time-limited URL to fetch it from."""

    @abstractmethod
    def targets(self) -> list[str]:
        """Slugs of the targets that have at least one stored object, sorted."""


def _check_write(target: str, run_id: str, files: dict[str, Path]) -> str:
    if not RUN_ID.match(run_id):
        raise InvalidInput(f"run id {run_id!r} is not YYYYMMDDTHHMMSSZ-<8 hex>", field="run_id")
    for name in files:
        if name == SUMMARY or not FILE_NAME.match(name):
            raise InvalidInput(f"file name {name!r} is not allowed in a run", field="files")
    return target_slug(target)


def _check_ref(ref: RunRef, name: str | None = None) -> None:
    if ref.target != target_slug(ref.target) or not RUN_ID.match(ref.run_id):
        raise NotFound("no such load-test run")
    if name is not None and not FILE_NAME.match(name):
        raise NotFound(f"no file {name!r} in this run")


class FileStore(ResultsStore):
    """Runs under a local directory (or a mounted volume such as EFS)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def write_run(self, target: str, run_id: str, files: dict[str, Path],
                  summary: dict[str, Any]) -> RunRef:
        slug = _check_write(target, run_id, files)
        parent = self.root / slug
        parent.mkdir(parents=True, exist_ok=True)
        final = parent / run_id
        if final.exists():
            raise Conflict(f"run {run_id} already exists", field="run_id")
        # Hidden (never listed) and unique; mode from the umask, like the final directory.
        staging = parent / f".partial-{run_id}-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            for name, path in files.items():
                shutil.copyfile(path, staging / name)
            (staging / SUMMARY).write_bytes(summary_bytes(summary))
            staging.rename(final)  # atomic on one file system: all of the run, or none
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return RunRef(slug, run_id)

    def list_runs(self, target: str | None = None, limit: int = 200) -> list[RunRef]:
        slugs = [target_slug(target)] if target is not None else self.targets()
        refs = [RunRef(slug, entry.name)
                for slug in slugs if (self.root / slug).is_dir()
                for entry in (self.root / slug).iterdir()
                if RUN_ID.match(entry.name) and (entry / SUMMARY).is_file()]
        return sorted(refs, key=lambda ref: (ref.run_id, ref.target), reverse=True)[:limit]

    def read_summary(self, ref: RunRef) -> dict[str, Any]:
        return _parse_summary(self.file_url_or_bytes(ref, SUMMARY))

    def file_url_or_bytes(self, ref: RunRef, name: str) -> bytes:
        _check_ref(ref, name)
        path = self.root / ref.target / ref.run_id / name
        if not (self.root / ref.target / ref.run_id / SUMMARY).is_file() or not path.is_file():
            raise NotFound(f"no file {name!r} in run {ref.run_id}")
        return path.read_bytes()

    def targets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir()
                      if entry.is_dir() and not entry.name.startswith("."))


class S3Store(ResultsStore):
    """Runs under ``s3://bucket/prefix``; ``client`` is a boto3 S3 client."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    @_s3_errors
    def write_run(self, target: str, run_id: str, files: dict[str, Path],
                  summary: dict[str, Any]) -> RunRef:
        slug = _check_write(target, run_id, files)
        if self._exists(self._key(slug, run_id, SUMMARY)):
            raise Conflict(f"run {run_id} already exists", field="run_id")
        body = summary_bytes(summary)  # refused before anything is put
        for name, path in files.items():
            self.client.upload_file(str(path), self.bucket, self._key(slug, run_id, name))
        # Last: a run killed before this line has no summary and is never listed.
        self.client.put_object(Bucket=self.bucket, Key=self._key(slug, run_id, SUMMARY),
                               Body=body, ContentType="application/json")
        return RunRef(slug, run_id)

    @_s3_errors
    def list_runs(self, target: str | None = None, limit: int = 200) -> list[RunRef]:
        base = self._key(target_slug(target)) + "/" if target is not None else self._key()
        if base and not base.endswith("/"):
            base += "/"
        refs = []
        for key in self._keys(base):
            parts = key[len(self._key()) + 1 if self.prefix else 0:].split("/")
            if len(parts) == 3 and parts[2] == SUMMARY and RUN_ID.match(parts[1]):
                refs.append(RunRef(parts[0], parts[1]))
        return sorted(refs, key=lambda ref: (ref.run_id, ref.target), reverse=True)[:limit]

    @_s3_errors
    def read_summary(self, ref: RunRef) -> dict[str, Any]:
        _check_ref(ref)
        return _parse_summary(self._get(self._key(ref.target, ref.run_id, SUMMARY), ref))

    @_s3_errors
    def file_url_or_bytes(self, ref: RunRef, name: str) -> str:
        _check_ref(ref, name)
        key = self._key(ref.target, ref.run_id, name)
        if not self._exists(self._key(ref.target, ref.run_id, SUMMARY)) or not self._exists(key):
            raise NotFound(f"no file {name!r} in run {ref.run_id}")
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=PRESIGNED_URL_TTL_S)
        return url

    @_s3_errors
    def targets(self) -> list[str]:
        base = self._key() + "/" if self.prefix else ""
        found: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                found.add(common["Prefix"][len(base):].rstrip("/"))
        return sorted(found)

    def _keys(self, prefix: str) -> list[str]:
        return [item["Key"]
                for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix)
                for item in page.get("Contents", [])]

    def _exists(self, key: str) -> bool:
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in response.get("Contents", []))

    def _get(self, key: str, ref: RunRef) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise NotFound(f"no complete run {ref.run_id}") from exc
        return body


def _parse_summary(raw: bytes | str) -> dict[str, Any]:
    summary = json.loads(raw)
    if not isinstance(summary, dict):
        raise NotFound("summary.json is not an object")
    return summary


def open_store(url: str, *, s3_client: Any = None) -> ResultsStore:
    """The store at ``url``: ``file://DIR`` or ``s3://bucket/prefix``.

    ``s3_client`` replaces the boto3 client made from the standard chain (tests, callers that
    already hold one). An unknown scheme is :class:`InvalidInput` on field ``results``."""
    if url.startswith("file://"):
        path = url.removeprefix("file://")
        if not path:
            raise InvalidInput("file:// needs a directory, e.g. file:///var/loadtests",
                               field="results")
        return FileStore(Path(path).expanduser())
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
            raise InvalidInput(f"{bucket!r} is not an S3 bucket name", field="results")
        return S3Store(bucket, prefix, s3_client or _s3_client())
    if url.startswith("gs://"):
        raise InvalidInput("gs:// results stores are not built yet; use file:// or s3://",
                           field="results")
    raise InvalidInput(f"results store {url!r}: use file://DIR or s3://bucket/prefix",
                       field="results")


def _s3_client() -> Any:
    try:
        import boto3  # optional extra, loaded only for an s3:// store
    except ImportError as exc:
        raise ConfigError("s3:// results need boto3: pip install 'flowllama[aws]'") from exc
    return boto3.client("s3")
