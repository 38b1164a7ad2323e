"""Integrity checks of a warehouse file: every row that points at another finds it, counts agree."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from warehouse.db import interruptible, reader, sql

EXAMPLES = 5  # offending rows named per problem
# check name -> what a row it returns means; the statements live in warehouse/sql/check_*.sql
CHECKS: dict[str, str] = {
    "articles_without_fetch": "articles or versions whose fetch is missing from the fetch log",
    "dangling_duplicates": "duplicates or clusters pointing at an article that does not exist, "
    "or not at its story's first",
    "orphan_rows": "versions, signatures, pages or rejects pointing at nothing",
    "orphan_events": "capture events, counts or extractions of articles that do not exist",
    "version_counts": "articles whose versions do not add up, or URLs loaded twice",
    "search_index": "articles missing from the search index, indexed twice, or index orphans",
}
# checks of tables a later migration added -> those tables (a warehouse not yet upgraded lacks them)
_LATER_TABLES = {
    "orphan_events": ("capture_events", "reported_counts", "event_extractions"),
    "search_index": ("search_docs", "search_postings"),
}


@dataclass(frozen=True)
class Problem:
    """One failed check: which, how many rows, a few of them, and a one-line message."""

    check: str
    count: int
    what: str
    examples: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        shown = ", ".join(self.examples)
        hidden = self.count - len(self.examples)
        more = f" and {hidden} more" if hidden > 0 else ""
        return f"{self.check}: {self.count} {self.what} ({shown}{more})"


def _has_tables(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> bool:
    found = conn.execute(
        "SELECT count(DISTINCT table_name) FROM information_schema.tables "
        "WHERE table_name IN (SELECT unnest(?::VARCHAR[]))",
        [list(names)],
    ).fetchone()[0]
    return found == len(names)


def _run_check(conn: duckdb.DuckDBPyConnection, name: str) -> Problem | None:
    rows = [row[0] for row in conn.execute(sql(f"check_{name}")).fetchall()]
    return Problem(name, len(rows), CHECKS[name], rows[:EXAMPLES]) if rows else None


def check_connection(conn: duckdb.DuckDBPyConnection) -> list[Problem]:
    """Run every check on an open connection; an empty list means the warehouse is consistent."""
    problems = []
    for name in CHECKS:
        if name in _LATER_TABLES and not _has_tables(conn, _LATER_TABLES[name]):
            continue  # a warehouse from before that migration has nothing to check
        problem = _run_check(conn, name)
        if problem is not None:
            problems.append(problem)
    return problems


def check_warehouse(db: str, *, wait_seconds: float = 30.0) -> list[Problem]:
    """Open the warehouse read-only and run every integrity check.

    Args:
        db: the warehouse file.
        wait_seconds: how long to wait while a writer holds the file.

    Returns:
        The problems found, one per failed check; empty when the warehouse is consistent.

    Raises:
        WarehouseError: the file is missing, not DuckDB, locked too long or from a newer newsflow.
    """
    with reader(db, wait_seconds=wait_seconds) as conn:
        return interruptible(conn, lambda: check_connection(conn))
