"""Read-side questions of the warehouse: known fetches, search, counts, guarded ad-hoc SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from tasks.dedupe import url_key
from tasks.records import FeedEntry, FetchResult, KnownFetch, WorkItem
from warehouse.db import (
    WarehouseError,
    columns_and_rows,
    interruptible,
    is_ducklake,
    load_extension,
    reader,
    sql,
)

READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN SELECT"}  # what _statement_kind names them
# DuckDB statement types that several keywords share (or none: UPDATE EXTENSIONS is "???").
_TYPES_OF_MANY_KEYWORDS = {"LOAD", "SET", "CALL", "VACUUM", "TRANSACTION", "INVALID", "???"}
_LEADING_COMMENTS = r"^(?:\s|--[^\n]*\n|/\*.*?\*/)*"  # what SQL may hold before its first word
_LEADING_KEYWORD_RE = re.compile(_LEADING_COMMENTS + r"(?P<word>[A-Za-z_]+)", re.S)
# What EXPLAIN wraps: after `EXPLAIN`, `EXPLAIN ANALYZE` or `EXPLAIN (options)`; comments first.
_EXPLAINED_RE = re.compile(
    _LEADING_COMMENTS + r"EXPLAIN\s+(?:ANALY[SZ]E\s+|\([^)]*\)\s*)?(?P<inner>.*)$",
    re.I | re.S,
)


def known_fetches(conn: duckdb.DuckDBPyConnection, urls: list[str]) -> dict[str, KnownFetch]:
    """Each URL's latest answer (200 or 304), with the validators its server last gave: its
    own, or those of its article's URL (the same url_key, another tracking parameter)."""
    if not urls:
        return {}
    conn.register("wanted_urls", pa.table({"url": urls, "url_key": [url_key(u) for u in urls]}))
    rows = conn.execute(sql("known_fetches")).fetchall()
    conn.unregister("wanted_urls")
    return {url: KnownFetch(*answer) for url, *answer in rows}


def pages_to_reclean(
    conn: duckdb.DuckDBPyConnection,
    sources: list[str] | None = None,
    since: datetime | None = None,
) -> list[tuple[int, str]]:
    """The stored pages a reclean reads, as (fetch id, URL) in fetch order: each article's page
    and each rejected URL's last page; of the named sources only, and fetched since `since`
    only, if given."""
    check_source_names(conn, sources or [])
    params = {"sources": sources, "since": since}
    return conn.execute(sql("reclean_pages"), params).fetchall()


def check_source_names(conn: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Refuse a source name no fetch of the warehouse has, naming those it has: a typo would
    select nothing, and a run over nothing looks like one that found nothing to change."""
    if not names:
        return
    known = [name for (name,) in conn.execute(sql("source_names")).fetchall()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        shown = ", ".join(known[:20]) + (f", … {len(known)} in all" if len(known) > 20 else "")
        raise ValueError(
            f"no source named {', '.join(map(repr, unknown))} in this warehouse; "
            f"its sources: {shown or 'none'}"
        )


def has_stored_pages(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse keeps a fetched page to read again."""
    return bool(conn.execute(sql("any_stored_page")).fetchone()[0])


def stored_pages(conn: duckdb.DuckDBPyConnection, fetch_ids: list[int]) -> dict[int, FetchResult]:
    """Stored pages as the fetches that got them, ready to clean again, by fetch id: with their
    body, content type and encoding, and the feed entry that linked to them."""
    conn.register("wanted_fetches", pa.table({"fetch_id": pa.array(fetch_ids, pa.int64())}))
    rows = conn.execute(sql("stored_pages")).fetchall()
    conn.unregister("wanted_fetches")
    pages = {}
    for row in rows:
        fetch_id, url, source_name, final_url, status, content_type, encoding = row[:7]
        etag, last_modified, fetched_at, body, content_hash, size = row[7:13]
        entry = FeedEntry(*row[13:]) if row[13] is not None else None
        if entry is not None and entry.published_at is not None:
            entry.published_at = entry.published_at.astimezone(UTC)
        pages[fetch_id] = FetchResult(
            url=url,
            source_name=source_name or "",
            outcome="ok",
            final_url=final_url,
            status=status,
            content_type=content_type,
            encoding=encoding,
            etag=etag,
            last_modified=last_modified,
            fetched_at=fetched_at.astimezone(UTC),
            page=bytes(body),
            page_sha1=content_hash,
            page_size=size,
            item=WorkItem(url=url, source_name=source_name or "", feed_entry=entry),
        )
    return pages


def warehouse_counts(db: str) -> dict[str, int]:
    with reader(db) as conn:
        cursor = conn.execute(sql("warehouse_counts"))
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def recent_articles(
    db: str, since: datetime, *, run_id: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Articles a run added: first seen since it started and, given its id, fetched by it (so
    not another run's, loading the same warehouse meanwhile); oldest publication first."""
    with reader(db) as conn:
        params = {"since": since, "run_id": run_id, "limit": limit}
        cursor = conn.execute(sql("recent_articles"), params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def search_articles(
    db: str, query: str, *, since: datetime | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """BM25 search over titles and texts, one row per story, best first, newest first on ties.

    The index is kept by every load (migration 003), so a search sees every committed article.
    """
    names, rows = search_table(db, query, since=since, limit=limit)
    return [dict(zip(names, row, strict=True)) for row in rows]


def search_table(
    db: str, query: str, *, since: datetime | None = None, limit: int = 20
) -> tuple[list[str], list[tuple]]:
    """search_articles as column names and rows: the names even when nothing matches."""
    params = {"query": query, "since": since, "limit": limit}
    with reader(db) as conn:
        load_extension(conn, "fts")
        try:
            return interruptible(
                conn, lambda: columns_and_rows(conn.execute(sql("search_articles"), params))
            )
        except duckdb.CatalogException as exc:
            raise WarehouseError(
                f"warehouse {db} predates its search index; run `newsflow ingest` once to "
                f"upgrade it ({str(exc).splitlines()[0]})"
            ) from None


def search_terms(db: str, query: str) -> list[str]:
    """The terms a search looks for: none when its words are all stop words or one character."""
    with reader(db) as conn:
        load_extension(conn, "fts")
        rows = conn.execute("SELECT DISTINCT term FROM search_terms($query)", {"query": query})
        return [term for (term,) in rows.fetchall()]


def _statement_kind(conn: duckdb.DuckDBPyConnection, statement: Any) -> str:
    """The statement's type; an EXPLAIN's is what it explains (EXPLAIN ANALYZE runs it)."""
    kind = statement.type.name
    if kind != "EXPLAIN":
        return kind
    match = _EXPLAINED_RE.match(statement.query)
    try:
        inner = _users_statements(conn.extract_statements(match.group("inner"))) if match else []
    except duckdb.Error:
        inner = []
    return "EXPLAIN " + (inner[0].type.name if len(inner) == 1 else "(unparsed)")


def _added(statement: Any) -> bool:
    """A statement DuckDB added to the user's: it has no text of its own."""
    return not statement.query.strip()


def _users_statements(statements: list[Any], query: str = "") -> list[Any]:
    """The statements the user wrote: without the pivot enums DuckDB puts before a SELECT, and
    an EXPLAIN of such a PIVOT as the user wrote it (DuckDB wraps it in a transaction of added
    statements: BEGIN, the enums, an EXPLAIN without text, COMMIT)."""
    if _explains_a_pivot(statements):
        [explain] = [s for s in statements if s.type.name == "EXPLAIN"]
        return [_Statement(explain.type, query)]
    return _without_pivot_enums(statements)


def _explains_a_pivot(statements: list[Any]) -> bool:
    """Whether DuckDB parsed the query into BEGIN, pivot enums, an EXPLAIN and COMMIT, none with
    text of its own: an EXPLAIN of a PIVOT without IN (…)."""
    kinds = [statement.type.name for statement in statements]
    return (
        len(statements) > 2
        and all(map(_added, statements))
        and kinds[0] == kinds[-1] == "TRANSACTION"
        and kinds[1:-1].count("EXPLAIN") == 1
        and set(kinds[1:-1]) <= {"CREATE", "EXPLAIN"}
    )


@dataclass(frozen=True)
class _Statement:
    """A parsed statement's type with the text it came from (DuckDB's Statement has none)."""

    type: Any
    query: str


def _without_pivot_enums(statements: list[Any]) -> list[Any]:
    """The statements the user wrote, without the CREATE TYPEs that DuckDB puts before a SELECT
    holding a PIVOT without IN (…): one temporary enum of each pivoted column's values.

    Such a CREATE has no text of its own; it is dropped only when a SELECT follows it (a PIVOT
    inside a CREATE TABLE, COPY or INSERT comes wrapped in a transaction, and stays refused).
    """

    def added_enum(statement: Any) -> bool:
        return statement.type.name == "CREATE" and not statement.query.strip()

    kept = []
    for at, statement in enumerate(statements):
        after = next((s for s in statements[at + 1 :] if not added_enum(s)), None)
        if not (added_enum(statement) and after is not None and after.type.name == "SELECT"):
            kept.append(statement)
    return kept


def _refused_name(kind: str, statement: Any, query: str) -> str:
    """The statement as the user wrote it where DuckDB's type says something else: INSTALL, not
    LOAD; CHECKPOINT, not CALL; RESET and USE, not SET; ANALYZE, not VACUUM; the query's own
    first keyword for a statement DuckDB added (the transaction around a CREATE … AS PIVOT)."""
    if kind in _TYPES_OF_MANY_KEYWORDS or not statement.query.strip():
        keyword = _LEADING_KEYWORD_RE.match(statement.query.strip() or query)
        if keyword:
            return keyword.group("word").upper()
    return kind


def _refuse_writes(conn: duckdb.DuckDBPyConnection, query: str) -> list[Any]:
    """Refuse every statement but SELECT and EXPLAIN [ANALYZE] SELECT, and more than one.

    Returns:
        the query's statements as DuckDB parsed them (pivot enums and their transaction too).
    """
    try:
        statements = conn.extract_statements(query)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot parse the query: {str(exc).splitlines()[0]}") from None
    users = _users_statements(statements, query)
    if not users:
        raise WarehouseError("the query is empty; pass one SELECT statement")
    for statement in users:
        kind = _statement_kind(conn, statement)
        if kind not in READ_ONLY_STATEMENTS:
            name = _refused_name(kind, statement, query)
            raise WarehouseError(
                f"newsflow query is read-only: {name} statements are refused "
                "(use SELECT; the flows are the only writers)"
            )
    if len(users) > 1:  # only the last one's rows would be printed
        raise WarehouseError(f"the query holds {len(users)} statements; pass one SELECT at a time")
    return statements


def _disable_file_access(conn: duckdb.DuckDBPyConnection) -> None:
    """No file access from the user's SQL, but for reading a lake's own Parquet files.

    A lake's tables are files in its data path, read as the query runs: that folder stays open
    (_refuse_writes keeps statements that could write there, EXPLAIN ANALYZE COPY among them, out).
    """
    if is_ducklake(conn):
        row = conn.execute("SELECT data_path FROM ducklake_settings(current_database())").fetchone()
        if row and row[0]:
            conn.execute("SET allowed_directories = $1", [[row[0]]])
    conn.execute("SET enable_external_access = false")


def read_only_query(db: str, query: str) -> tuple[list[str], list[tuple]]:
    """Run a user's SQL on a read-only connection; statements that could write are refused."""
    with reader(db) as conn:
        load_extension(conn, "fts")  # for search_terms() in users' SQL
        _disable_file_access(conn)  # before parsing too: import_database reads files to parse
        statements = _refuse_writes(conn, query)
        try:
            return interruptible(conn, lambda: _run(conn, query, statements))
        except duckdb.Error as exc:
            raise WarehouseError(f"query failed: {str(exc).splitlines()[0]}") from exc


# The INTERVAL in a column's type, not in a quoted field name nor an ENUM's value
_INTERVAL_TYPE_RE = re.compile(r""""(?:[^"]|"")*"|'(?:[^']|'')*'|\bINTERVAL\b""")


def _intervals_as_written(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """A SELECT's rows with its INTERVAL values as DuckDB writes them (`1 year 2 months`),
    in lists and structs too: fetched, an interval is Python's timedelta, which has no months,
    so INTERVAL 1 MONTH came out as 30 days and one year as 360."""
    types = [str(type_) for type_ in rows.types]
    as_text = [
        _INTERVAL_TYPE_RE.sub(lambda m: "VARCHAR" if m[0] == "INTERVAL" else m[0], type_)
        for type_ in types
    ]
    if as_text == types:
        return rows
    columns = []
    for at, (type_, text, name) in enumerate(zip(types, as_text, rows.columns, strict=True), 1):
        value = f"#{at}" if text == type_ else f"CAST(#{at} AS {text})"
        quoted = name.replace('"', '""')
        columns.append(f'{value} AS "{quoted}"')
    return rows.project(", ".join(columns))


def _run(
    conn: duckdb.DuckDBPyConnection, query: str, statements: list[Any]
) -> tuple[list[str], list[tuple]]:
    """The query's rows; of an EXPLAIN of a PIVOT (its parsed `statements`), the plan: its
    transaction's COMMIT comes last and says only "Success"."""
    if statements[-1].type.name == "SELECT":  # (a PIVOT's enums come before it)
        rows = _intervals_as_written(conn.sql(query))
        return rows.columns, rows.fetchall()
    if not _explains_a_pivot(statements):
        return columns_and_rows(conn.execute(query))
    plan: tuple[list[str], list[tuple]] = ([], [])
    for statement in statements:
        cursor = conn.execute(statement)
        if statement.type.name == "EXPLAIN":
            plan = columns_and_rows(cursor)
    return plan
