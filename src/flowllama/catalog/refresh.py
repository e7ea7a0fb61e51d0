"""Which prices are current, and refreshing them from the clouds' live APIs.

``current_prices()`` never touches the network: it returns the last refreshed prices (kept in
memory for 15 minutes, and in ``<data_dir>/catalog/prices.json.gz`` so that every process sees a
refresh done by another, e.g. ``flowllama pricing refresh``, at its next call: a changed file
replaces the memory copy at once), else the packaged snapshot.
``refresh_prices()`` asks AWS and GCP; a cloud that cannot be reached, or has no SDK or
credentials, keeps its snapshot prices and says so in ``clouds[...]``; when no cloud answers,
nothing stored is overwritten.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowllama.catalog.prices import (
    CLOUDS,
    CloudStatus,
    InstancePrice,
    LivePricesUnavailable,
    PriceCatalog,
    load_snapshot,
    overall_source,
    read_price_file,
    write_price_file,
)

log = logging.getLogger(__name__)
TTL_SECONDS = 15 * 60
Fetcher = Callable[[list[InstancePrice]], tuple[list[InstancePrice], CloudStatus]]


@dataclass
class _Entry:
    catalog: PriceCatalog
    path: Path
    loaded_at: float
    stamp: int | None  # the file's mtime when read (None: no file, the snapshot)


def _stamp(path: Path) -> int | None:
    """The price file's modification time (ns), None when there is none."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class _PriceCache:
    """The process's current prices, one entry, guarded by a lock (API workers are threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: _Entry | None = None

    def fresh(self, path: Path, *, live_only: bool = False) -> PriceCatalog | None:
        entry = self.entry
        if entry is None or entry.path != path:
            return None
        if live_only and entry.catalog.source != "live":
            return None
        if time.monotonic() - entry.loaded_at >= TTL_SECONDS:
            return None
        if _stamp(path) != entry.stamp:  # another process refreshed (one stat per call)
            return None
        return entry.catalog

    def store(self, path: Path, catalog: PriceCatalog, stamp: int | None) -> None:
        self.entry = _Entry(catalog, path, time.monotonic(), stamp)


_CACHE = _PriceCache()


def price_cache_path(data_dir: Path | None = None) -> Path:
    """Where refreshed prices are kept (under ``Settings.data_dir`` by default)."""
    if data_dir is None:
        from flowllama.settings import get_settings

        data_dir = get_settings().data_dir
    return data_dir / "catalog" / "prices.json.gz"


def current_prices(*, data_dir: Path | None = None) -> PriceCatalog:
    """The freshest prices available without network calls (see module docstring)."""
    path = price_cache_path(data_dir)
    with _CACHE.lock:
        cached = _CACHE.fresh(path)
        if cached is not None:
            return cached
        stamp = _stamp(path)  # before reading: a file replaced meanwhile is read again
        catalog = _read_refreshed(path) or load_snapshot()
        _CACHE.store(path, catalog, stamp)
        return catalog


def _read_refreshed(path: Path) -> PriceCatalog | None:
    if not path.is_file():
        return None
    try:
        return read_price_file(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable refreshed prices at %s: %s", path, exc)
        return None


def refresh_prices(
    clouds: Iterable[str] = CLOUDS,
    *,
    data_dir: Path | None = None,
    force: bool = False,
    aws_client_factory: Callable[[str, str], Any] | None = None,
    gcp_client: Any = None,
) -> PriceCatalog:
    """Fetch live prices for ``clouds`` (others keep snapshot prices), store and return them.

    Within 15 minutes of a refresh that reached every cloud, the cached result is returned
    unless ``force``. Never raises for an unreachable cloud: see ``clouds[cloud].detail``.
    """
    path = price_cache_path(data_dir)
    wanted = set(clouds)
    with _CACHE.lock:
        cached = _CACHE.fresh(path, live_only=True)
    if cached is not None and not force:
        return cached
    snapshot = load_snapshot()
    fetchers = _fetchers(aws_client_factory, gcp_client)
    rows: list[InstancePrice] = []
    statuses: dict[str, CloudStatus] = {}
    for cloud in CLOUDS:
        cloud_rows, statuses[cloud] = _refresh_cloud(
            cloud, snapshot, fetchers[cloud] if cloud in wanted else None)
        rows.extend(cloud_rows)
    if all(status.source == "snapshot" for status in statuses.values()):
        # Nothing live came back: keep what is stored (an earlier refresh, or the snapshot)
        # and say why per cloud, rather than overwrite live prices with snapshot ones.
        kept = _read_refreshed(path) or snapshot
        return PriceCatalog(kept.rows, kept.as_of, kept.source,
                            _kept_statuses(kept, statuses, wanted))
    as_of = min(status.as_of for status in statuses.values())
    catalog = PriceCatalog(tuple(rows), as_of, overall_source(statuses.values()), statuses)
    write_price_file(catalog, path)
    with _CACHE.lock:
        _CACHE.store(path, catalog, _stamp(path))
    return catalog


def _kept_statuses(kept: PriceCatalog, failed: dict[str, CloudStatus], wanted: set[str]
                   ) -> dict[str, CloudStatus]:
    """Each cloud's stored status; a cloud that was asked for also says why it failed."""
    result = dict(kept.clouds)
    for cloud in wanted & set(failed):
        stored = kept.clouds.get(cloud, CloudStatus("snapshot", kept.as_of))
        reason = failed[cloud].detail.removeprefix("live prices unavailable: ")
        result[cloud] = CloudStatus(stored.source, stored.as_of,
                                    f"not refreshed ({reason}); kept the stored prices")
    return result


def _fetchers(aws_client_factory: Callable[[str, str], Any] | None,
              gcp_client: Any) -> dict[str, Fetcher]:
    from flowllama.catalog.live_aws import fetch_aws_prices
    from flowllama.catalog.live_gcp import fetch_gcp_prices

    return {
        "aws": lambda rows: fetch_aws_prices(rows, client_factory=aws_client_factory),
        "gcp": lambda rows: fetch_gcp_prices(rows, client=gcp_client),
    }


def _refresh_cloud(cloud: str, snapshot: PriceCatalog, fetch: Fetcher | None
                   ) -> tuple[list[InstancePrice], CloudStatus]:
    base = snapshot.for_cloud(cloud)
    if fetch is None:
        return base, CloudStatus("snapshot", snapshot.as_of, "not refreshed (not requested)")
    try:
        return fetch(base)
    except LivePricesUnavailable as exc:
        log.warning("%s live prices unavailable, using the snapshot: %s", cloud, exc)
        return base, CloudStatus("snapshot", snapshot.as_of, f"live prices unavailable: {exc}")


def clear_cache() -> None:
    """Forget the in-memory prices (tests, or after changing ``data_dir``)."""
    with _CACHE.lock:
        _CACHE.entry = None
