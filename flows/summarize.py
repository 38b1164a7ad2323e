"""Downstream of ingest: capture events from new and changed articles, then daily summaries."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from tasks.events import ExtractionStats, extract_events_batch, find_pending_articles
from tasks.interrupts import hold_prefect_sigterm
from tasks.settings import load_settings
from tasks.summaries import (
    compute_daily_summaries,
    display_row,
    publish_captures_artifacts,
    render_captures_chart,
    reports_dir,
)
from warehouse.db import upgrade
from warehouse.summaries import (
    count_undated_articles,
    day_range,
    read_daily_captures,
    read_first_reports,
)

# A run's SIGTERM (a cancel, on a worker too) waits out the warehouse's statement under way in
# the flow's own thread, as Ctrl-C does: raised inside DuckDB, it was sometimes lost.
hold_prefect_sigterm()

EXTRACT_BATCH_SIZE = 500


class SummaryReport(BaseModel):
    """What one summarize run read, found and wrote."""

    db: str
    start: date | None
    end: date | None
    first_day: date | None = None  # the days the range holds (within the data's)
    last_day: date | None = None
    articles_read: int = 0
    events_found: int = 0
    counts_found: int = 0
    days: int = 0
    capitals_reported: int = 0
    claimed_only: int = 0
    capitals_held: int = 0
    undated_articles: int = 0
    rows_written: dict[str, int] = Field(default_factory=dict)
    chart_png: str | None = None
    chart_html: str | None = None

    def headline(self) -> str:
        if self.days:
            # the range asked for, where one was: the days with data may be fewer
            asked = (self.start or self.first_day, self.end or self.last_day)
            span = f"{asked[0]} … {asked[1]}"
            days = f"{self.days} day" + ("s" if self.days != 1 else "")
            if asked != (self.first_day, self.last_day):
                days += f" with data ({self.first_day} … {self.last_day})"
            found = (
                f"{days}, {self.capitals_reported} provincial capitals reported captured by "
                f"{self.last_day}, since the first day ({self.claimed_only} only claimed"
                + (
                    f"; {self.capitals_held} held at the end, the others reported retaken"
                    if self.capitals_held != self.capitals_reported
                    else ""
                )
                + ")"
            )
        else:
            span = f"{self.start or 'first day'} … {self.end or 'last day'}"
            found = "no day in that range has articles or capture reports"
        return (
            f"summarized {span}: read {self.articles_read} new or changed articles "
            f"({self.events_found} capture events, {self.counts_found} running counts); "
            + found
            + (
                f"; {self.undated_articles} articles without a publication date left out"
                if self.undated_articles
                else ""
            )
            + f"; chart: {self.chart_html}"
        )


def _extract_new_articles(db: str, batch_size: int) -> ExtractionStats:
    """Run the extraction task over new and changed articles, one task run per batch."""
    pending = find_pending_articles(db)
    found = ExtractionStats()
    for start in range(0, len(pending), batch_size):
        found = found + extract_events_batch(db, pending[start : start + batch_size])
    return found


def recompute_range(
    start: date | None, end: date | None, found: ExtractionStats
) -> tuple[date | None, date | None]:
    """The days to recompute: the requested ones, and every day from the earliest one this run's
    extraction changed, since each day's running totals count all the days before it."""
    if found.earliest_day is None:
        return start, end
    if start is not None and found.earliest_day < start:
        start = found.earliest_day
    return start, None


@flow(name="summarize", validate_parameters=True)
def summarize(
    start: date | None = None,
    end: date | None = None,
    db: str | None = None,
    last_days: Annotated[
        int | None, Field(ge=1, le=366, description="Only the last N days")
    ] = None,
    batch_size: Annotated[int, Field(ge=1, le=10_000, description="Articles per batch")] = (
        EXTRACT_BATCH_SIZE
    ),
) -> SummaryReport:
    """Extract capture events from new and changed articles, then recompute the daily summaries.

    Args:
        start: first day to recompute and report (default: the first day with data). Days
            before it are recomputed too when new or changed articles report them.
        end: last day to recompute and report (default: the last day with data). When new or
            changed articles were read, every later day is recomputed as well.
        db: the warehouse file (default warehouse/news.duckdb, or NEWSFLOW_DB, as for ingest).
        last_days: on a schedule, recompute only the last N days up to `end` (or today).
        batch_size: articles read, extracted and stored per extraction task run.

    Returns:
        counts of what was read and written, and where the chart went.
    """
    logger = get_run_logger()
    db = load_settings(db=db).db  # a worker's NEWSFLOW_DB names the warehouse its ingests write
    day_range(start, end)  # a reversed range is refused before the extraction writes anything
    if start is not None and last_days:
        raise ValueError("pass start or last_days, not both (last_days counts back from end)")
    upgrade(db)  # a warehouse from an older newsflow gets the tables and columns read below
    if last_days:  # up to today: not the days after it that a wrongly dated article reports
        end = end or date.today()
        start = end - timedelta(days=last_days - 1)
    found = _extract_new_articles(db, batch_size)
    recompute_start, recompute_end = recompute_range(start, end, found)
    if (recompute_start, recompute_end) != (start, end):
        logger.info(
            "the articles read report days from %s on: recomputing %s … %s, not only %s … %s",
            found.earliest_day,
            recompute_start or "first day",
            recompute_end or "last day",
            start or "first day",
            end or "last day",
        )
    written = compute_daily_summaries(db, recompute_start, recompute_end)
    rows = read_daily_captures(db, start, end)
    first_reports = read_first_reports(db, start, end)
    # the chart beside the warehouse is of every day, whatever range this run reports
    ranged = start is not None or end is not None
    chart = render_captures_chart(
        read_daily_captures(db) if ranged else rows,
        reports_dir(db),
        read_first_reports(db) if ranged else first_reports,
    )
    publish_captures_artifacts(db, [display_row(r) for r in rows], chart, first_reports, start, end)
    last = rows[-1] if rows else {}
    report = SummaryReport(
        db=db,
        start=start,
        end=end,
        first_day=rows[0]["day"] if rows else None,
        last_day=last.get("day"),
        articles_read=found.articles,
        events_found=found.events,
        counts_found=found.counts,
        days=len(rows),
        capitals_reported=last.get("cumulative_capitals", 0),
        claimed_only=last.get("claimed_only", 0),
        capitals_held=last.get("held_capitals", 0),
        undated_articles=count_undated_articles(db),
        rows_written=written,
        chart_png=str(chart.png),
        chart_html=str(chart.html),
    )
    logger.info(report.headline())
    return report


if __name__ == "__main__":
    import sys

    print(summarize(db=sys.argv[1] if len(sys.argv) > 1 else None).headline())
