"""Publish an exported site (``flowllama web export``) to an S3 bucket behind CloudFront.

Order matters for visitors loading the site while it changes: hashed assets go up first,
then the other files, pages last, so a page never names an asset that is not there yet. Only
then are the files the previous publish wrote and this one did not removed, and CloudFront
told to forget the prefix. What a publish wrote is recorded in ``<prefix>/.flowllama-publish.json``
so stale files are found from that record, never by listing the bucket: a production publish
at the bucket root cannot delete the pull-request previews stored under their own prefixes.

Cache headers: content-hashed assets ``public, max-age=31536000, immutable`` (their name
changes with their bytes); everything else, pages first, ``no-cache`` (revalidate each time).
A file whose bytes match the object already there (MD5 ETag) is not uploaded again.

boto3 is imported lazily (the ``aws`` extra); credentials and region come from the usual AWS
chain (in CI: OIDC role), the endpoint from ``AWS_ENDPOINT_URL`` when set.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flowllama.errors import ConfigError, InvalidInput
from flowllama.web.hashing import is_hashed

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
RECORD = ".flowllama-publish.json"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp", ".ico": "image/x-icon",
    ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8",
}

Progress = Callable[[int, int, str], None]


@dataclass
class PublishResult:
    """What one publish did (keys are full S3 keys)."""

    bucket: str
    prefix: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    invalidation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_type(name: str) -> str:
    """The Content-Type for a site file (``application/octet-stream`` when unknown)."""
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def cache_control(name: str) -> str:
    """Long-lived and immutable for content-hashed names, ``no-cache`` for everything else."""
    return IMMUTABLE if is_hashed(Path(name).name) else NO_CACHE


def normalize_prefix(prefix: str) -> str:
    """``"/pr-12/"`` -> ``"pr-12/"``, ``""`` stays ``""``; refuses ``..`` and odd characters."""
    cleaned = prefix.strip().strip("/")
    if not cleaned:
        return ""
    parts = cleaned.split("/")
    if any(p in ("", ".", "..") or not all(c.isalnum() or c in "-_." for c in p) for p in parts):
        raise InvalidInput("prefix must be path segments of letters, digits, '-', '_' or '.', "
                           f"such as pr-12, not {prefix!r}", field="prefix")
    return cleaned + "/"


def upload_order(files: list[str]) -> list[str]:
    """Hashed assets first, then other non-page files, pages (``.html``) last."""
    def rank(name: str) -> tuple[int, str]:
        if name.endswith(".html"):
            return (2, name)
        return (0 if is_hashed(Path(name).name) else 1, name)
    return sorted(files, key=rank)


def site_files(directory: Path) -> list[str]:
    """The site's files as POSIX paths relative to ``directory`` (dot files skipped)."""
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory (run `flowllama web export` first)",
                           field="directory")
    files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
    files = [f for f in files if not any(part.startswith(".") for part in f.split("/"))]
    if not any(f.endswith(".html") for f in files):
        raise InvalidInput(f"{directory} has no page (.html): not an exported site",
                           field="directory")
    return files


def _clients() -> tuple[Any, Any]:
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("publishing needs boto3: pip install 'flowllama[aws]'") from exc
    return boto3.client("s3"), boto3.client("cloudfront")


def publish_site(directory: Path, bucket: str, prefix: str = "", distribution: str | None = None,
                 *, s3: Any = None, cloudfront: Any = None,
                 progress: Progress | None = None) -> PublishResult:
    """Upload ``directory`` to ``s3://bucket/prefix``, delete what the previous publish there
    wrote and this one did not, and invalidate ``/<prefix>*`` on ``distribution`` if given."""
    base = normalize_prefix(prefix)
    files = upload_order(site_files(directory))
    if s3 is None or (distribution and cloudfront is None):
        s3_default, cloudfront_default = _clients()
        s3 = s3 or s3_default
        cloudfront = cloudfront or cloudfront_default
    result = PublishResult(bucket=bucket, prefix=base)
    existing = _etags(s3, bucket, base)
    for done, name in enumerate(files, start=1):
        key = base + name
        body = (directory / name).read_bytes()
        if existing.get(key) == hashlib.md5(body, usedforsecurity=False).hexdigest():
            result.unchanged.append(key)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(name),
                          CacheControl=cache_control(name))
            result.uploaded.append(key)
        if progress:
            progress(done, len(files), key)
    written = [base + name for name in files]
    stale = sorted(set(_previous_record(s3, bucket, base)) - set(written))
    for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1000 keys
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": key} for key in stale[start:start + 1000]], "Quiet": True})
    result.deleted = stale
    s3.put_object(Bucket=bucket, Key=base + RECORD, ContentType="application/json",
                  CacheControl=NO_CACHE, Body=json.dumps({"files": written}).encode())
    if distribution:
        result.invalidation_id = invalidate(cloudfront, distribution, base)
    return result


def invalidate(cloudfront: Any, distribution: str, prefix: str) -> str:
    """Ask CloudFront to drop ``/<prefix>*`` (one path: the hashed assets never change, the
    wildcard covers pages and unhashed files); returns the invalidation id."""
    answer = cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": [f"/{prefix}*"]},
        "CallerReference": f"flowllama-{time.time_ns()}"})
    return str(answer["Invalidation"]["Id"])


def _etags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            etags[item["Key"]] = str(item["ETag"]).strip('"')
    return etags


def _previous_record(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Keys the last publish under ``prefix`` wrote ([] for the first publish)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=prefix + RECORD)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return []
    files = json.loads(body).get("files", [])
    return [str(key) for key in files if str(key).startswith(prefix)]
