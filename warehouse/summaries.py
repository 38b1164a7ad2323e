"""What the events and summaries flows ask of the warehouse: articles, events, daily tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from warehouse.db import (
    WarehouseError,
    columns_and_rows,
    interruptible,
    make_folder,
    reader,
    sql,
    write_transaction,
    writer,
)

LOGGER = logging.getLogger(__name__)
SUMMARY_TABLES = ("daily_captures", "daily_capture_sources", "daily_article_counts")
_CLEAR_DAILY_CAPTURES = (
    "DELETE FROM daily_captures "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')"
)
_CLEAR_DAILY_CAPTURE_SOURCES = (
    "DELETE FROM daily_capture_sources "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')"
)
_CLEAR_DAILY_ARTICLE_COUNTS = (
    "DELETE FROM daily_article_counts "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')"
)
_COUNT_ROWS = {
    "daily_captures": "SELECT count(*) FROM daily_captures "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')",
    "daily_capture_sources": "SELECT count(*) FROM daily_capture_sources "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')",
    "daily_article_counts": "SELECT count(*) FROM daily_article_counts "
    "WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')",
}
_READ_TABLE = {
    # named, so the columns migration 009 appended sit beside the counts they qualify
    "daily_captures": (
        "SELECT day, new_capitals, new_capital_names, cumulative_capitals, claimed_only, "
        "retaken_capital_names, recaptured_capital_names, held_capitals, max_reported_count, "
        "national_capital, national_capital_status, articles, stories "
        "FROM daily_captures ORDER BY day"
    ),
    "daily_capture_sources": (
        "SELECT * EXCLUDE (computed_at) FROM daily_capture_sources ORDER BY day, capital"
    ),
    "daily_article_counts": (
        "SELECT * EXCLUDE (computed_at) FROM daily_article_counts ORDER BY day, site"
    ),
}


def day_range(start: date | None, end: date | None) -> dict[str, date | None]:
    """Bound parameters for a day range; a reversed range is refused with both dates named."""
    if start and end and start > end:
        raise ValueError(f"start {start} is after end {end}; swap them")
    return {"start": start, "end": end}


def pending_article_ids(db: str, rules_version: str, *, wait_seconds: float = 30.0) -> list[str]:
    """Ids of articles whose current text (or the rules) changed since events were extracted."""
    with reader(db, wait_seconds=wait_seconds) as conn:
        rows = conn.execute(sql("events_pending_articles"), {"rules_version": rules_version})
        return [row[0] for row in rows.fetchall()]


def read_article_texts(
    db: str, article_ids: Sequence[str], *, wait_seconds: float = 30.0
) -> list[dict[str, Any]]:
    """The extractor's view of some articles: text, title, day published, cluster and site."""
    with reader(db, wait_seconds=wait_seconds) as conn:
        result = conn.execute(sql("events_article_texts"), {"ids": list(article_ids)})
        return result.to_arrow_table().to_pylist()


def replace_article_events(
    db: str,
    extractions: pa.Table,
    events: pa.Table,
    counts: pa.Table,
    *,
    wait_seconds: float = 60.0,
) -> date | None:
    """Store a batch's extraction in one transaction, replacing what earlier versions produced
    (on DuckLake, serialised with every other writer through write_transaction).

    Returns:
        the earliest day the replaced events and counts were on (None if there were none).
    """

    def replace() -> date | None:
        replaced_from = conn.execute(sql("events_replaced_from")).fetchone()[0]
        conn.execute(sql("events_replace_batch"))
        return replaced_from

    with writer(db, wait_seconds=wait_seconds) as conn:
        conn.register("batch_extractions", extractions)
        conn.register("batch_events", events)
        conn.register("batch_counts", counts)
        return write_transaction(conn, replace)


def recompute_daily_summaries(
    db: str, start: date | None, end: date | None, *, wait_seconds: float = 60.0
) -> dict[str, int]:
    """Replace the daily tables' rows in [start, end] (None: open-ended) in one transaction.

    Returns:
        rows now in the range, per summary table.
    """
    params = day_range(start, end)

    def replace_range() -> dict[str, int]:
        conn.execute(sql("summaries_article_volume"), params)
        conn.execute(_CLEAR_DAILY_ARTICLE_COUNTS, params)
        conn.execute(sql("summaries_daily_article_counts"))
        conn.execute(_CLEAR_DAILY_CAPTURES, params)
        conn.execute(sql("summaries_daily_captures"), params)
        conn.execute(_CLEAR_DAILY_CAPTURE_SOURCES, params)
        conn.execute(sql("summaries_daily_capture_sources"), params)
        return {t: conn.execute(_COUNT_ROWS[t], params).fetchone()[0] for t in SUMMARY_TABLES}

    with writer(db, wait_seconds=wait_seconds) as conn:
        return write_transaction(conn, replace_range)


def count_undated_articles(db: str, *, wait_seconds: float = 30.0) -> int:
    """Articles whose page gave no publication date: the daily tables leave them out."""
    with reader(db, wait_seconds=wait_seconds) as conn:
        return conn.execute("SELECT count(*) FROM articles WHERE published_at IS NULL").fetchone()[
            0
        ]


def read_daily_captures(
    db: str, start: date | None = None, end: date | None = None, *, wait_seconds: float = 30.0
) -> list[dict[str, Any]]:
    """Daily captures in [start, end], each with its new capitals' statuses and source counts."""
    return _read_days(db, "summaries_daily_captures_read", start, end, wait_seconds)


def daily_span(db: str, *, wait_seconds: float = 30.0) -> tuple[date, date] | None:
    """The first and last day of the daily table; None before any `summarize`."""
    with reader(db, wait_seconds=wait_seconds) as conn:
        first, last = conn.execute("SELECT min(day), max(day) FROM daily_captures").fetchone()
    return (first, last) if first else None


def daily_captures_data(
    db: str, start: date | None = None, end: date | None = None, *, wait_seconds: float = 30.0
) -> tuple[list[str], list[tuple]]:
    """The daily captures in [start, end] as data, for scripts: the column names (there even
    with no row) and the rows, lists and structs as they are."""
    params, read = day_range(start, end), sql("summaries_daily_captures_read")
    with reader(db, wait_seconds=wait_seconds) as conn:
        return interruptible(conn, lambda: columns_and_rows(conn.execute(read, params)))


def read_first_reports(
    db: str, start: date | None = None, end: date | None = None, *, wait_seconds: float = 30.0
) -> list[dict[str, Any]]:
    """The first report of each capital new in [start, end] and of each retake there: its
    status, who made the report, the site, the sentence and the URL
    (summaries_first_reports.sql)."""
    return _read_days(db, "summaries_first_reports", start, end, wait_seconds)


def _read_days(
    db: str, statement: str, start: date | None, end: date | None, wait_seconds: float
) -> list[dict[str, Any]]:
    """The rows of a named statement over the days [start, end], as dicts, on a reader."""
    params = day_range(start, end)
    with reader(db, wait_seconds=wait_seconds) as conn:
        read = sql(statement)
        return interruptible(conn, lambda: conn.execute(read, params).to_arrow_table().to_pylist())


def capture_evidence(
    db: str,
    *,
    capital: str | None = None,
    statuses: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 100,
    wait_seconds: float = 30.0,
) -> tuple[list[str], list[tuple], bool]:
    """The reports behind the daily tables, a row per day, capital, status and story, earliest
    first (capture_evidence.sql).

    Returns:
        the column names, at most `limit` rows, and whether more rows matched.
    """
    params = {
        **day_range(start, end),
        "capital": capital,
        "statuses": list(statuses) if statuses else None,
        "limit": limit,
    }
    read = sql("capture_evidence")
    with reader(db, wait_seconds=wait_seconds) as conn:
        columns, rows = interruptible(conn, lambda: columns_and_rows(conn.execute(read, params)))
    return columns, rows[:limit], len(rows) > limit


def write_summary_tables(
    db: str, out_dir: Path, fmt: Literal["csv", "parquet"], *, wait_seconds: float = 30.0
) -> dict[Path, int]:
    """Write each summary table to <out_dir>/<table>.<fmt> with DuckDB's writers; list columns
    become "[a, b]" text in CSV and stay lists in Parquet. The folder is made only once the
    warehouse has opened, so a bad --db leaves nothing behind. Returns each file's rows."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown export format {fmt!r}; use csv or parquet")
    with reader(db, wait_seconds=wait_seconds) as conn:
        make_folder(
            out_dir, lambda why: f"cannot create the folder {out_dir}: {why}; pass another --out"
        )
        return interruptible(
            conn, lambda: dict(_write_table(conn, t, out_dir, fmt) for t in SUMMARY_TABLES)
        )


def _lists_as_json(conn: duckdb.DuckDBPyConnection, query: str) -> str:
    """The query with its list columns as JSON text, as `query`, `captures` and `evidence` write a
    list in CSV: DuckDB's own `[Asia Wire, samples]` could not be told apart from a site named
    "Neue Zürcher Zeitung AG, Schweiz"."""
    relation = conn.sql(query)  # bound, not run
    kinds = zip(relation.columns, relation.types, strict=True)
    lists = [name for name, kind in kinds if str(kind).endswith("[]")]
    if not lists:
        return query
    replaced = ", ".join(f'to_json("{name}")::VARCHAR AS "{name}"' for name in lists)
    return f"SELECT * REPLACE ({replaced}) FROM ({query})"


def _write_table(
    conn: duckdb.DuckDBPyConnection, table: str, out_dir: Path, fmt: Literal["csv", "parquet"]
) -> tuple[Path, int]:
    """COPY, which says how many rows it wrote (counting a relation after ran its query again)."""
    path = out_dir / f"{table}.{fmt}"
    query, options = _READ_TABLE[table], "FORMAT parquet"
    if fmt == "csv":
        query, options = _lists_as_json(conn, query), "HEADER"
    try:
        [(rows,)] = conn.execute(
            f"COPY ({query}) TO $path ({options})", {"path": str(path)}
        ).fetchall()
    except duckdb.IOException as exc:
        detail = str(exc).splitlines()[0]
        raise WarehouseError(f"cannot write {path} ({detail}); pass another --out") from None
    return path, rows
