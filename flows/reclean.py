"""Clean the stored pages again, without fetching: stored pages → clean → dedupe → load.

The warehouse keeps every page it fetched (`pages`). When newsflow reads pages better (a new
release, the thorough mode after fast runs), this brings the better reading to every article
without asking any site again: a changed text or headline is a new version, as if the page had
been fetched again; a byline, site name or language read better is refreshed; a URL rejected
before becomes an article if its page reads as one now. Nothing is a sighting: no fetch is
logged and no article's last_seen_at moves. `newsflow summarize` afterwards reads the new
versions' capture events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.utilities.annotations import opaque
from pydantic import BaseModel, Field

from flows import progress
from tasks.clean import clean_batch, start_extraction_server
from tasks.dedupe import dedupe_batch
from tasks.interrupts import hold_prefect_sigterm
from tasks.load import list_stored_pages, load_reclean_batch, read_stored_pages
from tasks.settings import ExtractionMode, load_settings
from warehouse.db import artifact_key, upgrade
from warehouse.store import LoadCounts

# A run's SIGTERM (a cancel, on a worker too) waits out the warehouse's statement under way in
# the flow's own thread, as Ctrl-C does: raised inside DuckDB, it was sometimes lost.
hold_prefect_sigterm()


class RecleanReport(BaseModel):
    """What one reclean read and changed."""

    db: str
    extraction: ExtractionMode
    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: dict[str, int] = Field(default_factory=dict)
    rejected: dict[str, int] = Field(default_factory=dict)
    superseded: int = 0

    def headline(self) -> str:
        rejected, superseded = sum(self.rejected.values()), self.superseded
        return (
            f"reclean of {self.db} ({self.extraction.value}): read {self.pages} stored pages; "
            f"{self.updated} articles have a new version, {self.unchanged} the same text and "
            f"headline, {self.new} new from pages rejected before"
            + (f" ({sum(self.duplicates.values())} duplicates)" if self.duplicates else "")
            + (f"; {rejected} read as rejected now, left as stored" if rejected else "")
            + (f"; {superseded} fetched again meanwhile, left alone" if superseded else "")
        )

    def rows(self) -> list[dict[str, object]]:
        """The report as (measure, value) rows for a table artifact or the terminal."""
        rows: list[dict[str, object]] = [
            {"measure": name, "value": getattr(self, name)}
            for name in ("pages", "new", "updated", "unchanged")
        ]
        rows += [
            {"measure": f"duplicate: {k}", "value": v} for k, v in sorted(self.duplicates.items())
        ]
        rows += [
            {"measure": f"rejected now: {k}", "value": v} for k, v in sorted(self.rejected.items())
        ]
        return rows + [{"measure": "superseded", "value": self.superseded}]


def batches_of_distinct_urls(
    pages: list[tuple[int, str]], size: int
) -> Iterator[list[tuple[int, str]]]:
    """Consecutive batches of at most `size` pages, none holding one URL twice: a URL fetched
    twice may have led to two articles (a redirect that moved), and a batch's load tells its
    pages apart by URL."""
    batch: list[tuple[int, str]] = []
    urls: set[str] = set()
    for fetch_id, url in pages:
        if len(batch) == size or url in urls:
            yield batch
            batch, urls = [], set()
        batch.append((fetch_id, url))
        urls.add(url)
    if batch:
        yield batch


@flow(name="reclean", validate_parameters=True)
def reclean(
    db: str | None = None,
    extraction: ExtractionMode = ExtractionMode.thorough,
    sources: list[str] | None = None,
    batch_size: Annotated[int, Field(ge=1, le=5000, description="Pages per batch")] = 200,
    since: datetime | None = None,
) -> RecleanReport:
    """Clean the warehouse's stored pages again and load what reads differently now.

    Args:
        db: the warehouse (default warehouse/news.duckdb, or NEWSFLOW_DB, as for ingest).
        extraction: thorough (the best text and dates) or fast, as for ingest.
        sources: only the pages of these sources (by name); default every source.
        batch_size: pages read, cleaned and loaded per batch.
        since: only the pages fetched since then (a fast backfill's, say); default every page.

    Returns:
        how many pages were read, and what came of them.
    """
    logger = get_run_logger()
    settings = load_settings(db=db)  # NEWSFLOW_DB, and the clean's defaults, as for ingest
    db, wait = settings.db, settings.lock_wait_seconds
    upgrade(db, wait_seconds=wait)  # a warehouse from an older newsflow gets what is read below
    pages = list_stored_pages(db, sources, wait, since)
    progress.report("stored", len(pages))
    if pages:
        start_extraction_server(extraction)
    counts = LoadCounts()
    for batch in batches_of_distinct_urls(pages, batch_size):  # cleaned in this thread
        fetch_ids = [fetch_id for fetch_id, _ in batch]
        stored = read_stored_pages(db, fetch_ids, wait)
        fetch_ids = [fetch_id for fetch_id in fetch_ids if fetch_id in stored]
        fetches = [stored[fetch_id] for fetch_id in fetch_ids]
        documents = clean_batch(
            opaque(fetches), settings.clean_workers, extraction, settings.clean_page_seconds
        )
        progress.report("extracted", len(documents))
        prints = dedupe_batch(opaque(documents))
        counts.add(load_reclean_batch(db, fetch_ids, opaque(documents), opaque(prints), wait))
        progress.report("loaded", len(batch))
    report = RecleanReport(
        db=db,
        extraction=extraction,
        pages=len(pages),
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
        duplicates=dict(counts.duplicates),
        rejected=dict(counts.rejected),
        superseded=counts.superseded,
    )
    key = artifact_key("reclean-report", db)
    create_table_artifact(report.rows(), key=key, description=report.headline())
    logger.info(report.headline())
    return report


if __name__ == "__main__":
    import sys

    print(reclean(db=sys.argv[1] if len(sys.argv) > 1 else None).headline())
