"""Open the DuckDB warehouse: one short-lived writer at a time, read-only readers, migrations."""

from __future__ import annotations

import importlib
import logging
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

LOGGER = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQL_DIR = Path(__file__).parent / "sql"
_LOCK_RE = re.compile(r"(Could not set lock|Conflicting lock)", re.I)
_PID_RE = re.compile(r"PID (\d+)")
_MIGRATION_RE = re.compile(r"^(\d{3})_(\w+)\.sql$")
_DISK_FULL = ("No space left on device", "Disk quota exceeded", "File too large")
_UNWRITABLE = ("Read-only file system", "Permission denied")
_SQLITE_MAGIC = b"SQLite format 3\x00"
READER_MAX_DELAY = 0.25


class WarehouseError(RuntimeError):
    """A warehouse problem a user can act on; the message names the file and the fix."""


class WarehouseLocked(WarehouseError):
    """Another process held the warehouse file for longer than we were willing to wait."""


def migrations() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the code, in order: (version, name, sql)."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    return found


def sql(name: str) -> str:
    """The text of a named statement file in warehouse/sql/, e.g. sql("upsert_articles")."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension from its PyPI package (duckdb-extension-NAME), never downloading."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    base = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    files = list(base.rglob(f"{name}.duckdb_extension"))
    if not files:
        raise WarehouseError(
            f"the {name} extension for DuckDB {duckdb.__version__} is not in {base}; "
            f"install duckdb-extension-{name}=={duckdb.__version__}"
        )
    conn.execute(f"LOAD '{files[0].as_posix()}'")


def _refuse_sqlite(path: str) -> None:
    """DuckDB would fetch its sqlite extension from the internet and open (or write) the file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return
    if head == _SQLITE_MAGIC:
        raise WarehouseError(
            f"{path} is a SQLite database, not a DuckDB warehouse; pass another --db"
        )


def _open(path: str, *, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying with jittered backoff while another process holds the file lock."""
    _refuse_sqlite(path)
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    announced = False
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            message = str(exc)
            if not _LOCK_RE.search(message):
                raise _explain(path, exc) from None
            holder = _PID_RE.search(message)
            who = f"PID {holder.group(1)}" if holder else "another process"
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"warehouse {path} is locked by {who}; gave up after {wait_seconds:.0f} s "
                    "(wait for that run to finish, or raise --lock-wait)"
                ) from None
            if not announced:
                LOGGER.info(
                    "warehouse %s is locked by %s; waiting up to %.0f s", path, who, wait_seconds
                )
                announced = True
            time.sleep(min(delay * (1 + random.random()), max(0.0, deadline - time.monotonic())))
            # Readers poll faster, to slip in between two of an ingest run's short loads.
            delay = min(delay * 2, READER_MAX_DELAY if read_only else 1.0)
        except duckdb.Error as exc:
            raise _explain(path, exc) from None


def _explain(path: str, exc: Exception) -> WarehouseError:
    """Turn a DuckDB open error into a one-line message naming the file and the fix."""
    message = str(exc).splitlines()[0]
    if "not a valid DuckDB database" in message or "database file" in message.lower():
        return WarehouseError(f"{path} is not a DuckDB warehouse ({message}); pass another --db")
    if "No such file" in message or "does not exist" in message:
        return WarehouseError(f"warehouse {path} does not exist yet; run `newsflow ingest` first")
    if "Permission denied" in message or "Read-only file system" in message:
        return WarehouseError(f"warehouse {path} cannot be written ({message}); check the path")
    return WarehouseError(f"cannot open warehouse {path}: {message}")


def _write_failure(path: str, exc: duckdb.Error) -> WarehouseError | None:
    """A write the file system refused, as one line; None for anything else (it fails loudly).

    A COMMIT that failed hides behind the ROLLBACK that followed it, so the chain is searched.
    """
    cause: BaseException | None = exc
    while cause is not None:
        message = str(cause).splitlines()[0] if str(cause) else ""
        if any(sign in message for sign in _DISK_FULL):
            return WarehouseError(
                f"warehouse {path}: the disk is full ({message}); the write was rolled back, "
                "free some space and rerun"
            )
        if any(sign in message for sign in _UNWRITABLE):
            return WarehouseError(f"warehouse {path} cannot be written ({message}); check the path")
        cause = cause.__context__
    return None


@contextmanager
def _write_errors(path: str) -> Iterator[None]:
    """Turn refused writes (disk full, read-only file system) into WarehouseError."""
    try:
        yield
    except duckdb.Error as exc:
        failure = _write_failure(path, exc)
        if failure is None:
            raise
        raise failure from None


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this file, 0 for a new one."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(conn: duckdb.DuckDBPyConnection, path: str = "warehouse") -> int:
    """Apply the migrations this file lacks, each in its own transaction; refuse newer files."""
    known = migrations()
    latest = known[-1][0] if known else 0
    current = schema_version(conn)
    if current > latest:
        raise WarehouseError(
            f"warehouse {path} has schema version {current}, newer than this newsflow knows "
            f"({latest}); upgrade newsflow"
        )
    for version, name, text in known:
        if version <= current:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            conn.execute(text)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        LOGGER.info("warehouse %s: applied migration %03d_%s", path, version, name)
    return latest


@contextmanager
def writer(path: str, *, wait_seconds: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated read-write connection, held only as long as the `with` block: keep it short."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = f"{exc.strerror} ({exc.filename})"
            message = f"warehouse {path} cannot be created: {where}; check the path"
            raise WarehouseError(message) from None
    conn = _open(path, read_only=False, wait_seconds=wait_seconds)
    try:
        with _write_errors(path):
            migrate(conn, path)
            yield conn
    finally:
        with _write_errors(path):
            conn.close()


@contextmanager
def reader(path: str, *, wait_seconds: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits (bounded) while a writer holds the file."""
    if not Path(path).exists():
        raise WarehouseError(f"warehouse {path} does not exist yet; run `newsflow ingest` first")
    conn = _open(path, read_only=True, wait_seconds=wait_seconds)
    try:
        current, latest = schema_version(conn), (migrations() or [(0, "", "")])[-1][0]
        if current > latest:
            raise WarehouseError(
                f"warehouse {path} has schema version {current}, newer than this newsflow knows "
                f"({latest}); upgrade newsflow"
            )
        yield conn
    finally:
        conn.close()
