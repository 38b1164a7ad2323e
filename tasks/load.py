"""Load stage: each batch, search index included, in one short warehouse transaction; and the
warehouse reads a run needs first (validators, stored pages for a reclean)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from tasks.dedupe import Fingerprint
from tasks.records import Document, FeedEntry, FetchResult, KnownFetch, Source
from warehouse.db import WarehouseError, WarehouseLocked, made_at, reader, warehouse_exists, writer
from warehouse.queries import known_fetches, pages_to_reclean, stored_pages
from warehouse.store import LoadCounts, load_batch_rows, reclean_batch_rows

BATCH_WRITE_THREADS = 1
# The warehouse each run writes, by (flow run, --db): when it was made, as the run's first load
# found it. A later load of the run finding it gone, or another in its place, is refused.
_RUN_WAREHOUSES: dict[tuple[str, str], str] = {}


def _locked(task, task_run, state) -> bool:
    """Retry a load only when the warehouse stayed locked; anything else fails loudly."""
    try:
        state.result()
    except WarehouseLocked:
        return True
    except Exception:
        return False
    return False


def write_batch(
    db: str,
    *,
    run_id: str | None = None,
    sources: list[Source] | None = None,
    fetches: list[FetchResult] | None = None,
    documents: list[Document] | None = None,
    prints: list[Fingerprint] | None = None,
    feed_entries: list[FeedEntry] | None = None,
    lock_wait_seconds: float = 60.0,
    reached: set[str] | None = None,
) -> LoadCounts:
    """Open the warehouse, write one batch atomically, close: the file is held only meanwhile.

    The batch is written on one DuckDB thread: its statements are small, and on more threads they
    took a fifth more CPU for no less time (README, Latest results), CPU the extraction pool needs.
    """
    with _the_runs_writer(db, run_id, lock_wait_seconds) as conn:
        return load_batch_rows(
            conn,
            run_id=run_id,
            sources=sources or [],
            fetches=fetches or [],
            documents=documents or [],
            prints=prints or [],
            feed_entries=feed_entries or [],
            reached=reached,
        )


@contextmanager
def _the_runs_writer(
    db: str, run_id: str | None, lock_wait_seconds: float
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer on the warehouse the run's earlier loads wrote: one deleted meanwhile is not made
    anew, nor is another one in its place written. QA deleted the file mid-run: the next load
    made an empty warehouse and the run reported 194 new articles, of which 60 were there."""
    key = (run_id, db) if run_id else None
    expected = _RUN_WAREHOUSES.get(key) if key else None
    if expected is not None and not warehouse_exists(db):
        raise WarehouseError(
            f"warehouse {db} was deleted during the run: the batches loaded into it are gone "
            "with it; rerun the command to load everything again"
        )
    with writer(db, wait_seconds=lock_wait_seconds, threads=BATCH_WRITE_THREADS) as conn:
        found = made_at(conn)
        if key is not None and expected is None:
            _RUN_WAREHOUSES[key] = found
        elif expected is not None and found != expected:
            raise WarehouseError(
                f"warehouse {db} was replaced during the run (the run's was made at {expected}, "
                f"this one at {found}): nothing more is written to it; rerun the command"
            )
        yield conn


# Tasks that open the warehouse retry only while it stays locked (another process writing); big
# inputs are never hashed for a cache key.
_WAREHOUSE_TASK = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": _locked,
    "cache_policy": NO_CACHE,
}


@task(name="load_batch", **_WAREHOUSE_TASK)
def load_batch(
    db: str,
    run_id: str | None,
    fetches: list[list[FetchResult]],
    documents: list[Document],
    prints: list[Fingerprint],
    lock_wait_seconds: float = 60.0,
    reached: set[str] | None = None,
) -> LoadCounts:
    """Write one batch's fetch log, pages, rejects and articles (new, versions, duplicates).

    `fetches` holds the fetch results of that batch and of the batches before it that had no
    page to clean (the flow loads those with it), in order; `documents` and `prints` are the
    batch's own. `reached`: the article ids the run's earlier loads reached, which this load
    adds its own to (the loads of a run run one after another, in its process).
    """
    counts = write_batch(
        db,
        run_id=run_id,
        fetches=[fetch for batch in fetches for fetch in batch],
        documents=documents,
        prints=prints,
        lock_wait_seconds=lock_wait_seconds,
        reached=reached,
    )
    get_run_logger().info(
        "loaded %d new (%d duplicates), %d updated, %d unchanged, %d repeated, %d rejected, "
        "%d failed fetches",
        counts.new,
        sum(counts.duplicates.values()),
        counts.updated,
        counts.unchanged,
        counts.repeated,
        sum(counts.rejected.values()),
        sum(counts.failed.values()),
    )
    return counts


@task(name="load_reclean_batch", **_WAREHOUSE_TASK)
def load_reclean_batch(
    db: str,
    fetch_ids: list[int],
    documents: list[Document],
    prints: list[Fingerprint],
    lock_wait_seconds: float = 60.0,
) -> LoadCounts:
    """Write what a reclean read again from stored pages (`documents[i]` from `fetch_ids[i]`):
    new versions and metadata of their articles, articles from URLs rejected before."""
    with writer(db, wait_seconds=lock_wait_seconds, threads=BATCH_WRITE_THREADS) as conn:
        counts = reclean_batch_rows(conn, fetch_ids=fetch_ids, documents=documents, prints=prints)
    get_run_logger().info(
        "read %d stored pages again: %d new (%d duplicates), %d updated, %d unchanged, "
        "%d rejected now (left as stored), %d fetched again meanwhile (left alone)",
        len(fetch_ids),
        counts.new,
        sum(counts.duplicates.values()),
        counts.updated,
        counts.unchanged,
        sum(counts.rejected.values()),
        counts.superseded,
    )
    return counts


@task(name="load_discovery", **_WAREHOUSE_TASK)
def load_discovery(
    db: str,
    run_id: str | None,
    sources: list[Source],
    fetches: list[FetchResult],
    feed_entries: list[FeedEntry],
    lock_wait_seconds: float = 60.0,
) -> LoadCounts:
    """Record the run's sources, the fetches of feeds and sitemaps, and every feed entry."""
    return write_batch(
        db,
        run_id=run_id,
        sources=sources,
        fetches=fetches,
        feed_entries=feed_entries,
        lock_wait_seconds=lock_wait_seconds,
    )


@task(name="read_known_fetches", **_WAREHOUSE_TASK)
def read_known_fetches(
    db: str, urls: list[str], lock_wait_seconds: float = 60.0
) -> dict[str, KnownFetch]:
    """What earlier runs got of these URLs: the validators that make an unchanged page answer
    304, and the time that lets a sitemap page unchanged since go unrequested."""
    with writer(db, wait_seconds=lock_wait_seconds) as conn:
        return known_fetches(conn, urls)


@task(name="list_stored_pages", **_WAREHOUSE_TASK)
def list_stored_pages(
    db: str,
    sources: list[str] | None = None,
    lock_wait_seconds: float = 60.0,
    since: datetime | None = None,
) -> list[tuple[int, str]]:
    """The stored pages a reclean reads, as (fetch id, URL), oldest fetch first: the page of
    each article's current version and the last page of each URL rejected that has no article
    (fetched since `since`, if given)."""
    with reader(db, wait_seconds=lock_wait_seconds) as conn:
        return pages_to_reclean(conn, sources, since)


@task(name="read_stored_pages", **_WAREHOUSE_TASK)
def read_stored_pages(
    db: str, fetch_ids: list[int], lock_wait_seconds: float = 60.0
) -> dict[int, FetchResult]:
    """A batch of stored pages, by fetch id, as their fetches got them: a reclean's "fetch"."""
    with reader(db, wait_seconds=lock_wait_seconds) as conn:
        return stored_pages(conn, fetch_ids)
