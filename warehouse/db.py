"""Open the warehouse (a DuckDB file, or a DuckLake several workers write at once), migrate it."""

from __future__ import annotations

import functools
import importlib
import logging
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from tasks.interrupts import pause, signals_held

LOGGER = logging.getLogger(__name__)
# Jitter for backoffs, from a generator of our own: a draw from `random`'s shared one would shift
# the sequence of a program that seeded it, and trips Hypothesis's check if it falls while a
# property test generates examples.
_JITTER = random.Random()
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DUCKLAKE_MIGRATIONS_DIR = MIGRATIONS_DIR / "ducklake"
DUCKLAKE_PREFIX = "ducklake:"
DATA_MARK = "?data="
LAKE = "lake"  # the name a DuckLake warehouse is attached (and USEd) under
_USE_LAKE = "USE lake"
WAREHOUSE = "warehouse"  # the name a writer attaches a DuckDB file under
_USE_WAREHOUSE = "USE warehouse"
ROW_GROUP_ROWS = 2048  # rows per row group a writer appends (DuckDB's least): see _connect
_DETACH_LAKE = "DETACH DATABASE IF EXISTS lake"
_DATA_PATH = "SELECT data_path FROM ducklake_settings(current_database())"
# the data path the lake's catalog keeps (ducklake_settings gives the one in use, maybe ?data=)
_KEPT_DATA_PATH = (
    "SELECT value FROM __ducklake_metadata_lake.ducklake_metadata WHERE key = 'data_path'"
)
_LAKE_TABLES = "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?"
_TABLE_FILES = "SELECT data_file FROM ducklake_list_files(?, ?)"
# DuckLake refusing a DATA_PATH other than the one its catalog keeps
_OTHER_DATA_PATH_RE = re.compile(
    r'DATA_PATH parameter "(?P<given>[^"]*)" does not match existing data path in the '
    r'catalog "(?P<kept>[^"]*)"'
)
# the Parquet files a lake's current snapshot reads (DuckLake's metadata, attached beside it)
_LIVE_DATA_FILES = (
    "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file WHERE end_snapshot IS NULL"
)
SQL_DIR = Path(__file__).parent / "sql"
_LOCK_RE = re.compile(r"(Could not set lock|Conflicting lock)", re.I)
_PID_RE = re.compile(r"PID (\d+)")
_MIGRATION_RE = re.compile(r"^(\d{3})_(\w+)\.sql$")
_DISK_FULL = ("No space left on device", "Disk quota exceeded", "File too large")
_UNWRITABLE = ("Read-only file system", "Permission denied")
_REFUSED_WRITE_RE = re.compile(r'Could not write file "(?P<file>[^"]+)": (?P<why>.+)$')
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB file
_CATALOG_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*")  # "sqlite" in ducklake:sqlite:FILE
READER_MAX_DELAY = 0.25
_LOAD_WAIT = "; a load waits lock_wait_seconds, set in the sources file's [settings]"
# A concurrent commit won: on DuckLake a logical conflict, or the catalog database refusing the
# later of two commits (SQLite's lock, PostgreSQL's serialisation); the transaction is rerun.
_CONFLICT_RE = re.compile(
    r"Transaction conflict|database is locked|could not serialize|deadlock detected|"
    r"duplicate key value violates unique constraint",
    re.I,
)
WRITE_ATTEMPTS = 8
_CATALOG_EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}
_REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "az://", "abfss://", "http")
_SCHEMA_VERSION_DDL = {
    "duckdb": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
    "ducklake": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
    "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
}
T = TypeVar("T")


class WarehouseError(RuntimeError):
    """A warehouse problem a user can act on; the message names the file and the fix."""


class WarehouseLocked(WarehouseError):
    """Another process held the warehouse file for longer than we were willing to wait."""


@dataclass(frozen=True)
class Warehouse:
    """Where a warehouse lives, parsed from the `--db` value.

    A plain path is a DuckDB file. `ducklake:CATALOG[?data=DATA]` is a DuckLake: CATALOG is
    `sqlite:FILE` (several local processes), `postgres:CONNINFO` (several machines) or a DuckDB
    FILE (one process); DATA is where the Parquet files go, by default FILE.files/ beside a file
    catalog (a PostgreSQL catalog needs it the first time, then remembers it). A DATA that is
    an existing local folder other than the one the catalog keeps opens a lake whose files
    were moved there (see _may_move_data_path).
    """

    url: str
    catalog_kind: str  # duckdb (a plain file, or a DuckLake catalog file), sqlite, postgres
    catalog: str  # the file, or the PostgreSQL connection string
    data_path: str | None = None
    lake: bool = False
    data_named: bool = False  # the URL names DATA (?data=), rather than leaving it to the default

    @property
    def catalog_file(self) -> Path | None:
        return None if self.catalog_kind == "postgres" else Path(self.catalog)

    @property
    def name(self) -> str:
        """Its short name: the file's stem (news for warehouse/news.duckdb; a DuckLake's catalog
        file's), or a lake on PostgreSQL's database name."""
        if self.catalog_file:
            return self.catalog_file.stem
        dbname = re.search(r"(?:^|\s)dbname=([^\s']+)", self.catalog)
        return dbname[1] if dbname else "ducklake"


def artifact_key(kind: str, db: str) -> str:
    """The key of a Prefect artifact about a warehouse: `kind` and the warehouse's name, as the
    key's rules allow (lower-case letters, digits, dashes), e.g. daily-captures-news. Two
    warehouses on one server each keep their own latest report and history; with one key, each
    run replaced the other warehouse's. Two of one name in two folders share theirs (the key
    stays the readable name the README gives)."""
    name = re.sub(r"[^a-z0-9]+", "-", parse_warehouse(db).name.lower()).strip("-")
    return f"{kind}-{name or 'warehouse'}"


def parse_warehouse(url: str) -> Warehouse:
    """Read a `--db` value: a DuckDB file path, or a `ducklake:` URL (see Warehouse)."""
    if not url.strip() or url.startswith(":memory:"):
        # DuckDB takes both as a new in-memory database on each connection: a load's rows
        # vanished as it closed, and every later read found nothing
        raise WarehouseError(
            f"warehouse {url!r} is not a file: pass a path such as warehouse/news.duckdb or a "
            "ducklake: URL"
        )
    if not url.startswith(DUCKLAKE_PREFIX):
        return Warehouse(url=url, catalog_kind="duckdb", catalog=url)
    rest, _, data = url[len(DUCKLAKE_PREFIX) :].partition(DATA_MARK)
    named = bool(data)
    kind, _, target = rest.partition(":")
    kind = kind.lower() if kind.lower() in (*_CATALOG_EXTENSIONS, "duckdb") else kind
    if target and _CATALOG_KIND.fullmatch(kind) and kind not in (*_CATALOG_EXTENSIONS, "duckdb"):
        # "postgresql:…" made a local lake, a DuckDB catalog file named after the typo (QA)
        raise WarehouseError(
            f"warehouse {url}: unknown catalog kind {kind!r}; use ducklake:sqlite:FILE, "
            "ducklake:postgres:CONNINFO or ducklake:FILE (a file whose name holds a colon: "
            "ducklake:./NAME)"
        )
    if kind not in _CATALOG_EXTENSIONS and kind != "duckdb":
        kind, target = "duckdb", rest
    if not target.strip():
        raise WarehouseError(
            f"warehouse {url} names no catalog; use ducklake:sqlite:FILE, "
            "ducklake:postgres:CONNINFO or ducklake:FILE (optionally ?data=PATH)"
        )
    if kind != "postgres":
        target = str(Path(target).expanduser().absolute())
        data = data or f"{target}.files"
    if data and not data.startswith(_REMOTE_SCHEMES):
        data = str(Path(data).expanduser().absolute())
    if data and not data.endswith("/"):
        data += "/"
    return Warehouse(
        url=url,
        catalog_kind=kind,
        catalog=target,
        data_path=data or None,
        lake=True,
        data_named=named,
    )


def is_ducklake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection's current database is a DuckLake (rather than a DuckDB file)."""
    row = conn.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and row[0] == "ducklake"


@functools.cache  # files shipped with the code: every reader and writer opened read them all
def migrations(backend: str = "duckdb") -> tuple[tuple[int, str, str], ...]:
    """The numbered migrations shipped with the code, in order: (version, name, sql).

    backend "ducklake" takes a version from warehouse/migrations/ducklake/ where one of the same
    name is there (written without keys, indexes or sequences, which DuckLake does not have),
    and the DuckDB file's migration where it runs unchanged on a lake.
    """
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_RE.match(path.name)
        if match:
            lake_path = DUCKLAKE_MIGRATIONS_DIR / path.name
            if backend == "ducklake" and lake_path.is_file():
                path = lake_path
            found.append((int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    return tuple(found)


def latest_version(backend: str = "duckdb") -> int:
    """The version of the last migration shipped with the code."""
    return max((version for version, _, _ in migrations(backend)), default=0)


def sql(name: str) -> str:
    """The text of a named statement file in warehouse/sql/, e.g. sql("upsert_articles")."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension from its PyPI package (duckdb-extension-NAME), never downloading."""
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ModuleNotFoundError:
        dist = name.replace("_", "-")
        raise WarehouseError(
            f"the DuckDB extension {name} is not installed; "
            f"install duckdb-extension-{dist}=={duckdb.__version__}"
        ) from None
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


# A write transaction commits by checkpointing straight into the file, never through the
# write-ahead log. DuckDB 1.5.5 writes a big insert's row groups (over ROW_GROUP_ROWS rows, such
# as a batch's search postings) to the file before the commit and logs only pointers to them;
# when a crash tears the log before its commit marker, the replay still keeps those row groups
# and drops the rest of the transaction (search postings without their documents: reproduced by
# tests/test_crash.py; duckdb/duckdb PR 25931). A commit that is a checkpoint is all or nothing.
# It costs what the checkpoint each writer made as it closed cost: that one now finds nothing.
_COMMIT_BY_CHECKPOINT = {"checkpoint_threshold": "0b", "auto_checkpoint_skip_wal_threshold": 0}


def _connect(path: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A reader opens the file; a writer attaches it with small row groups (ROW_GROUP_ROWS) and
    commits by checkpoint (_COMMIT_BY_CHECKPOINT).

    DuckDB rewrites a table's last, partly filled row group at every checkpoint, and each load
    checkpoints as it commits: with the default 122 880-row groups a load of 200 pages
    rewrote every page body and text stored so far in the group (0.2 s of checkpoint at 1000
    stored pages, 1.0 s at 6000, growing until the group fills). The size is not stored in the
    file, so every writer attaches with it.
    """
    if read_only:
        return duckdb.connect(path, read_only=True)
    conn = duckdb.connect(
        config={
            "temp_directory": path + ".tmp",
            "autoinstall_known_extensions": False,
            **_COMMIT_BY_CHECKPOINT,
        }
    )
    try:
        conn.execute(_attach_file_statement(path))
        conn.execute(_USE_WAREHOUSE)
    except BaseException:
        conn.close()
        raise
    return conn


def _attach_file_statement(path: str) -> str:
    return f"ATTACH {_literal(path)} AS {WAREHOUSE} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})"


def _open(path: str, *, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying with jittered backoff while another process holds the file lock."""
    _refuse_sqlite(path)
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    announced = False
    while True:
        try:
            return _connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            message = str(exc)
            if not _LOCK_RE.search(message):
                raise _explain(path, exc) from None
            holder = _PID_RE.search(message)
            who = f"PID {holder.group(1)}" if holder else "another process"
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"warehouse {path} is locked by {who}; gave up after {wait_seconds:.0f} s "
                    f"(wait for that run to finish, then rerun{'' if read_only else _LOAD_WAIT})"
                ) from None
            if not announced:
                LOGGER.info(
                    "warehouse %s is locked by %s; waiting up to %.0f s", path, who, wait_seconds
                )
                announced = True
            pause(min(delay * (1 + _JITTER.random()), max(0.0, deadline - time.monotonic())))
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
            return disk_full_error(path, _refused_write(message))
        if any(sign in message for sign in _UNWRITABLE):
            return unwritable_error(path, message)
        cause = cause.__context__
    return None


def _refused_write(message: str) -> str:
    """The file and the system's reason, as in "news.duckdb: No space left on device", out of
    DuckDB's wording (a commit's failed checkpoint wraps it in three more sentences)."""
    found = _REFUSED_WRITE_RE.search(message)
    return f"{Path(found['file']).name}: {found['why']}" if found else message


def disk_full_error(path: str, detail: str) -> WarehouseError:
    """The one line a write refused for lack of space ends in (the warehouse or its side files)."""
    return WarehouseError(
        f"warehouse {path}: the disk is full ({detail}); the write was rolled back, "
        "free some space and rerun"
    )


def unwritable_error(path: str, detail: str) -> WarehouseError:
    """The one line a write refused by the file system (read-only, no such directory) ends in."""
    return WarehouseError(f"warehouse {path} cannot be written ({detail}); check the path")


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
    """The highest migration applied to this warehouse, 0 for a new one."""
    # Asking the catalog first costs a DuckLake ~0.2 s per connection: ask the table, and keep
    # DuckDB from reading a Python variable of that name (this function's!) instead of failing.
    conn.execute("SET python_enable_replacements = false")
    try:
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    except duckdb.CatalogException:
        return 0
    finally:
        conn.execute("RESET python_enable_replacements")


def _check_not_newer(conn: duckdb.DuckDBPyConnection, path: str, latest: int) -> int:
    current = schema_version(conn)
    if current > latest:
        raise WarehouseError(
            f"warehouse {path} has schema version {current}, newer than this newsflow knows "
            f"({latest}); upgrade newsflow"
        )
    return current


def migrate(conn: duckdb.DuckDBPyConnection, path: str = "warehouse") -> int:
    """Apply the migrations this warehouse lacks, each in its own transaction; refuse newer ones.

    On DuckLake two workers may migrate a new lake at once: the loser's transaction is rerun,
    finds the version applied, and skips it.
    """
    backend = "ducklake" if is_ducklake(conn) else "duckdb"
    known = migrations(backend)
    latest = latest_version(backend)
    if _check_not_newer(conn, path, latest) == latest:
        return latest
    load_extension(conn, "fts")  # the search index's macros stem with fts's stem()
    for version, name, text in known:

        def apply(version: int = version, name: str = name, text: str = text) -> bool:
            if schema_version(conn) >= version:
                return False
            conn.execute(_SCHEMA_VERSION_DDL[backend])
            conn.execute(text)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
            return True

        if write_transaction(conn, apply, claim=False):
            LOGGER.info("warehouse %s: applied migration %03d_%s", path, version, name)
    return latest


@contextmanager
def _stops_passed_on(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Stop the statement a signal interrupted and raise the signal's exception again.

    DuckDB, running a statement in the main thread (the summarize flow's tasks, ingest's
    discovery load, a migration), takes what a signal handler raises meanwhile (Ctrl-C's
    KeyboardInterrupt, the TerminationSignal of Prefect's SIGTERM when a run is cancelled) as
    RuntimeError("Query interrupted") caused by it, and leaves the statement running: the
    connection's next statement, its close, or the next open of the file waited for it to end
    (a minute in the tests). And a Prefect task that raised the RuntimeError failed, so the run
    ended in a traceback, not as interrupted (or cancelled)."""
    try:
        yield
    except RuntimeError as exc:
        stop = exc.__cause__
        if stop is None or isinstance(stop, Exception):
            raise  # an error, not a stop
        conn.interrupt()
        raise stop from None


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open (a failed COMMIT has already ended it)."""
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error as exc:
        LOGGER.debug("rollback after a failed transaction: %s", exc)


def write_transaction(
    conn: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    *,
    claim: bool = True,
    attempts: int = WRITE_ATTEMPTS,
) -> T:
    """Run work() in one transaction and commit; on DuckLake, rerun it when a concurrent commit won.

    DuckLake lets two transactions append to one table at once, so two workers could each load
    the same article after each checked it was new. Every write transaction there first updates
    the one-row write_lock table (claim): of two concurrent ones, the later commit conflicts, is
    rolled back and rerun (bounded, jittered backoff) on the snapshot the winner left. A DuckDB
    file needs none of this: one process holds it at a time.

    Raises:
        WarehouseLocked: still conflicting after `attempts` tries (the load task retries that).
    """
    lake = is_ducklake(conn)
    delay = 0.05
    for attempt in range(1, attempts + 1):
        conn.execute("BEGIN TRANSACTION")
        try:
            with _stops_passed_on(conn):  # before the rollback, which would wait for it
                if lake and claim:
                    conn.execute(sql("claim_write_lock"))
                result = work()
                conn.execute("COMMIT")
            return result
        except duckdb.Error as exc:
            _rollback(conn)
            if not (lake and _CONFLICT_RE.search(str(exc))):
                raise
            if attempt == attempts:
                raise _gave_up(conn, attempts, exc) from exc
            LOGGER.info("a concurrent writer committed first (try %d); rerunning", attempt)
        except BaseException:
            _rollback(conn)
            raise
        pause(delay * (1 + _JITTER.random()))
        delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _gave_up(conn: duckdb.DuckDBPyConnection, attempts: int, exc: duckdb.Error) -> WarehouseLocked:
    """The one line a lake write ends in when every try lost: naming the lake, and whether its
    catalog stayed locked (SQLite's lock: another load, or any process holding a write lock on
    the file) or another writer's commits won."""
    row = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    where = f"warehouse {DUCKLAKE_PREFIX}{row[0]}" if row and row[0] else "the warehouse"
    detail = " ".join(str(exc).split())[:300]
    if "database is locked" in str(exc):
        return WarehouseLocked(
            f"{where}: its catalog stayed locked through {attempts} tries ({detail}); another "
            "process held it each time (another load, or one holding a write lock on the "
            "catalog: a sqlite3 shell, a backup); rerun once it is released"
        )
    return WarehouseLocked(
        f"{where}: a concurrent writer won {attempts} commits in a row; gave up ({detail})"
    )


def _literal(text: str) -> str:
    """A SQL string literal (ATTACH and LOAD take no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _prepare_lake(lake: Warehouse) -> None:
    """Create a new local lake's folders; a new SQLite catalog starts in WAL mode, so that a
    reader never holds up a commit and the later of two commits fails at once instead of waiting.

    The data folder is made only with its catalog: an existing lake's that is missing (moved,
    deleted, a volume not mounted) is refused once attached (_check_data_path), not made again
    empty for the next load to write beside the files it lost.
    """
    folders = [lake.catalog_file.parent] if lake.catalog_file else []
    new = lake.catalog_file is not None and not lake.catalog_file.exists()
    if new and lake.data_path and not lake.data_path.startswith(_REMOTE_SCHEMES):
        folders.append(Path(lake.data_path))
    for folder in folders:
        _make_warehouse_folder(lake.url, folder)
    if lake.catalog_kind == "sqlite" and not lake.catalog_file.exists():
        with sqlite3.connect(lake.catalog_file) as catalog:
            catalog.execute("PRAGMA journal_mode=WAL")
        catalog.close()


def make_folder(folder: Path, refusal: Callable[[str], str]) -> None:
    """Make a folder and its parents; a failure is a WarehouseError whose message `refusal`
    words around the system's reason and path, e.g. "Not a directory (/data/news)"."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(refusal(f"{exc.strerror} ({exc.filename})")) from None


def _make_warehouse_folder(url: str, folder: Path) -> None:
    """A folder a warehouse needs (its file's, a lake's catalog's or data's)."""
    make_folder(folder, lambda why: f"warehouse {url} cannot be created: {why}; check the path")


def _check_data_path(conn: duckdb.DuckDBPyConnection, lake: Warehouse, *, read_only: bool) -> None:
    """Refuse an attached lake whose local data folder is gone while its catalog lists files in
    it: every read of those tables would fail midway (a traceback, or a write error blamed on
    another path), and a load would write new files beside the lost ones. A lake without files
    yet may lack the folder (DuckLake makes it with the first file; a writer makes it now)."""
    data = lake.data_path
    if data is None:  # a PostgreSQL catalog remembers it
        row = conn.execute(_DATA_PATH).fetchone()
        data = row[0] if row else None
    if not data or data.startswith(_REMOTE_SCHEMES) or Path(data).is_dir():
        return
    files = conn.execute(_LIVE_DATA_FILES).fetchone()[0]
    if files:
        raise WarehouseError(
            f"warehouse {lake.url}: its data folder {data} is missing, and the catalog lists "
            f"{files} Parquet files in it; restore the folder (or mount its volume), or name "
            f"the folder it was moved to with {DATA_MARK}FOLDER, and rerun (nothing was read or "
            "written)"
        )
    if not read_only:
        _make_warehouse_folder(lake.url, Path(data))


def _may_move_data_path(lake: Warehouse) -> bool:
    """Whether the URL's ?data= names an existing local folder: the lake is attached with
    OVERRIDE_DATA_PATH, so that a lake whose files were moved there opens with it in place of
    the path its catalog keeps (DuckLake cannot change that path, so the URL keeps ?data=).
    Once attached, _check_moved_files makes sure the files are there."""
    data = lake.data_path
    return lake.data_named and not data.startswith(_REMOTE_SCHEMES) and Path(data).is_dir()


def _check_moved_files(conn: duckdb.DuckDBPyConnection, lake: Warehouse) -> None:
    """Refuse a ?data= folder other than the catalog's that lacks the lake's live Parquet files
    (a wrong folder): every read of the missing ones would fail midway."""
    if not _may_move_data_path(lake):
        return
    kept = conn.execute(_KEPT_DATA_PATH).fetchone()
    if kept is None or kept[0] == lake.data_path:
        return
    tables = conn.execute(_LAKE_TABLES, [LAKE, "main"]).fetchall()
    files = [
        row[0]
        for (table,) in tables
        for row in conn.execute(_TABLE_FILES, [LAKE, table]).fetchall()
    ]
    missing = [file for file in files if not Path(file).is_file()]
    if missing:
        how_many = f"{len(missing)} of {len(files)} missing, e.g. {missing[0]}"
        raise WarehouseError(
            f"warehouse {lake.url}: {lake.data_path} lacks the lake's Parquet files ({how_many}); "
            f"its catalog keeps them in {kept[0]}: "
            f"name the folder they were moved to with {DATA_MARK}FOLDER (nothing was read or "
            "written)"
        )


def _what_file_holds(conn: duckdb.DuckDBPyConnection) -> tuple[str | None, list[str]]:
    """What a DuckDB file opened as `conn` is: a newsflow "warehouse" (schema_version, no DuckLake
    metadata), a DuckLake "catalog" (the reverse), "other" (another program's tables: newsflow
    versions its schema from its first table), or None (new); and its tables' names."""
    query = "SELECT DISTINCT table_name FROM duckdb_tables() ORDER BY 1"
    tables = [row[0] for row in conn.execute(query).fetchall()]
    warehouse, catalog = "schema_version" in tables, "ducklake_metadata" in tables
    if warehouse != catalog:
        return ("warehouse" if warehouse else "catalog"), tables
    return ("other" if tables else None), tables


def _refuse_other_catalog_file(lake: Warehouse) -> None:
    """A lake's catalog file of the other kind than its URL says is refused, naming the URL that
    opens it: a SQLite catalog as ducklake:FILE was refused with DuckDB's "Install it first
    using INSTALL sqlite" (a download newsflow never makes), a DuckDB file as ducklake:sqlite:
    with "file is not a database" (QA)."""
    if lake.catalog_kind == "postgres":
        return
    try:
        with open(lake.catalog, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return  # none yet (a new lake), or unreadable: the attach says so
    if lake.catalog_kind == "duckdb" and head == _SQLITE_MAGIC:
        raise WarehouseError(
            f"{lake.catalog} is a SQLite file; pass --db {DUCKLAKE_PREFIX}sqlite:{lake.catalog}"
        )
    if lake.catalog_kind == "sqlite" and head[8:12] == _DUCKDB_MAGIC:
        raise WarehouseError(
            f"{lake.catalog} is a DuckDB file, not a SQLite catalog; pass --db "
            f"{DUCKLAKE_PREFIX}{lake.catalog} for a lake's DuckDB catalog, or --db "
            f"{lake.catalog} for a DuckDB warehouse"
        )


def _refuse_plain_warehouse(lake: Warehouse) -> None:
    """A lake's DuckDB catalog file that is a newsflow warehouse (schema_version, no DuckLake
    metadata) is refused: attaching it would write DuckLake's tables into that warehouse."""
    if lake.catalog_kind != "duckdb" or not lake.catalog_file.is_file():
        return
    never_fetch = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    try:
        with duckdb.connect(lake.catalog, read_only=True, config=never_fetch) as conn:
            holds, _ = _what_file_holds(conn)
    except duckdb.Error:
        return  # in use, or not DuckDB: the attach says so
    if holds == "warehouse":
        raise WarehouseError(
            f"{lake.catalog} is a newsflow DuckDB warehouse, not a DuckLake catalog; "
            f"pass --db {lake.catalog} (without {DUCKLAKE_PREFIX}), or another file for a lake"
        )


def _attach_statement(lake: Warehouse, *, read_only: bool) -> str:
    spec = lake.catalog if lake.catalog_kind == "duckdb" else f"{lake.catalog_kind}:{lake.catalog}"
    options = [f"DATA_PATH {_literal(lake.data_path)}"] if lake.data_path else []
    if _may_move_data_path(lake):
        options.append("OVERRIDE_DATA_PATH true")
    if read_only:
        options.append("READ_ONLY")
    suffix = f" ({', '.join(options)})" if options else ""
    return f"ATTACH {_literal(DUCKLAKE_PREFIX + spec)} AS {LAKE}{suffix}"


def _lake_connection(lake: Warehouse) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the extensions a lake needs, loaded from their PyPI packages.

    Their signatures are not re-checked: hashing ~80 MB of extension files took ~0.9 s per
    connection, and the files are as trusted as the installed duckdb package beside them.
    """
    conn = duckdb.connect(config={"allow_unsigned_extensions": True})
    conn.execute("SET autoinstall_known_extensions = false")
    load_extension(conn, "ducklake")
    if lake.catalog_kind in _CATALOG_EXTENSIONS:
        load_extension(conn, _CATALOG_EXTENSIONS[lake.catalog_kind])
    if lake.data_path is None or lake.data_path.startswith(_REMOTE_SCHEMES):
        # a data path the URL leaves to the catalog (PostgreSQL) may be on object storage, and
        # the ATTACH already reaches it there (loading httpfs takes ~10 ms)
        load_extension(conn, "httpfs")
    return conn


def _open_lake(
    lake: Warehouse, *, read_only: bool, wait_seconds: float
) -> duckdb.DuckDBPyConnection:
    """Attach the lake and USE it, retrying (bounded) while its catalog is busy or being created."""
    conn = _lake_connection(lake)
    statement = _attach_statement(lake, read_only=read_only)
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            conn.execute(statement)
            conn.execute(_USE_LAKE)
        except duckdb.Error as exc:
            message = str(exc)
            busy = _LOCK_RE.search(message) or _CONFLICT_RE.search(message)
            if not busy:
                conn.close()
                raise _explain_lake(lake, exc) from None
            if time.monotonic() >= deadline:
                conn.close()
                raise WarehouseLocked(
                    f"warehouse {lake.url} stayed busy; gave up after {wait_seconds:.0f} s "
                    f"({message.splitlines()[-1]})"
                ) from None
            _detach_quietly(conn)
            pause(min(delay * (1 + _JITTER.random()), max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)
            continue
        try:
            _check_data_path(conn, lake, read_only=read_only)
            _check_moved_files(conn, lake)
        except BaseException:
            conn.close()
            raise
        return conn


def _detach_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute(_DETACH_LAKE)
    except duckdb.Error as exc:
        LOGGER.debug("detach after a failed attach: %s", exc)


def _explain_lake(lake: Warehouse, exc: Exception) -> WarehouseError:
    """A lake that cannot be attached, as one line naming it and the fix."""
    message = " ".join(str(exc).split())[:400]
    if lake.catalog_kind == "postgres" and "DATA_PATH" in message.upper():
        return WarehouseError(
            f"warehouse {lake.url}: a new PostgreSQL-catalog lake needs its data path the first "
            f"time (append {DATA_MARK}PATH-OR-URL) ({message})"
        )
    other = _OTHER_DATA_PATH_RE.search(str(exc))  # not `message`: long paths would be cut
    if other:
        return _other_data_path(lake, given=other["given"], kept=other["kept"])
    return WarehouseError(f"cannot open warehouse {lake.url}: {message}")


def _other_data_path(lake: Warehouse, *, given: str, kept: str) -> WarehouseError:
    """A data path other than the catalog's that cannot stand in for it: not named in the URL
    (the default beside a file catalog), a folder that does not exist, or object storage."""
    if given.startswith(_REMOTE_SCHEMES):
        why = " (a lake's moved files are read only from a local folder)"
    elif lake.data_named:
        why = " (which does not exist)"
    else:
        why = ""
    return WarehouseError(
        f"warehouse {lake.url}: its catalog keeps its Parquet files in {kept}, not {given}{why}; "
        f"pass {DATA_MARK}{kept}, or {DATA_MARK}FOLDER if they were moved to FOLDER"
    )


def warehouse_exists(path: str) -> bool:
    """Whether the warehouse file (a lake's catalog file) is there; a PostgreSQL catalog is."""
    lake = parse_warehouse(path)
    return not _lake_missing(lake) if lake.lake else Path(path).exists()


def made_at(conn: duckdb.DuckDBPyConnection) -> str:
    """When the warehouse was made (its first migration): another one at the same path is not
    it, whatever it holds."""
    return conn.execute(sql("band_index_made_at")).fetchone()[0]


def _lake_missing(lake: Warehouse) -> bool:
    return lake.catalog_file is not None and not lake.catalog_file.exists()


def _open_writer(path: str, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    lake = parse_warehouse(path)
    if lake.lake:
        _refuse_other_catalog_file(lake)
        _refuse_plain_warehouse(lake)
        _prepare_lake(lake)
        return _open_lake(lake, read_only=False, wait_seconds=wait_seconds)
    folder = Path(path).parent
    if not folder.exists():  # a file in its place is left to DuckDB, which says so on opening
        _make_warehouse_folder(path, folder)
    conn = _open(path, read_only=False, wait_seconds=wait_seconds)
    _refuse_other_database(conn, path)
    return conn


def _refuse_other_database(conn: duckdb.DuckDBPyConnection, path: str) -> None:
    """A DuckDB file that is not a newsflow warehouse is refused (and closed) as a plain one: a
    DuckLake's catalog, whose migration would have written newsflow's tables among the lake's
    metadata; another program's database, which was read as a warehouse from before newsflow's
    schema (a read of its own `articles` table answered; `captures` said to upgrade it)."""
    holds, tables = _what_file_holds(conn)
    if holds not in ("catalog", "other"):
        return
    conn.close()
    if holds == "catalog":
        raise WarehouseError(
            f"{path} is a DuckLake catalog, not a newsflow DuckDB warehouse; "
            f"pass --db {DUCKLAKE_PREFIX}{path}"
        )
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    raise WarehouseError(
        f"{path} is a DuckDB database but not a newsflow warehouse (its tables: {shown}; no "
        "schema_version); pass a newsflow warehouse, or a new file's name, with --db"
    )


class _Interrupter:
    """A held signal's stop (tasks/interrupts.py): interrupts the connection's statement, from
    another thread, never once the connection is closed."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.closed = False

    def __call__(self) -> None:
        with self.lock:
            if not self.closed:
                with suppress(duckdb.Error):
                    self.conn.interrupt()

    def close(self) -> None:
        with self.lock:
            self.closed = True
        self.conn.close()


@contextmanager
def writer(
    path: str, *, wait_seconds: float = 60.0, threads: int | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated read-write connection, held only as long as the `with` block: keep it short.

    path is a DuckDB file or a `ducklake:` URL (see Warehouse); a lake's tables are in the
    current database, so the same statements run on both. `threads` caps DuckDB's threads for
    the block (migrations keep them all); a writer is its own in-memory DuckDB instance that
    attaches the warehouse, so the cap ends with it.
    """
    with signals_held() as hold:  # a Ctrl-C or SIGTERM meanwhile interrupts, then is raised
        conn = _open_writer(path, wait_seconds)
        stop = _Interrupter(conn)
        try:
            hold.stop_with(stop)
            with _write_errors(path), _stops_passed_on(conn):
                migrate(conn, path)
                if threads is not None:
                    conn.execute("SET threads = ?", [threads])
                yield conn
        finally:
            with _write_errors(path):
                stop.close()


@contextmanager
def reader(path: str, *, wait_seconds: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits (bounded) while a writer holds the file."""
    with signals_held() as hold:  # a Ctrl-C or SIGTERM meanwhile interrupts, then is raised
        lake = parse_warehouse(path)
        if (not lake.lake and not Path(path).exists()) or (lake.lake and _lake_missing(lake)):
            raise WarehouseError(
                f"warehouse {path} does not exist yet; run `newsflow ingest` first"
            )
        if lake.lake:
            _refuse_other_catalog_file(lake)
            _refuse_plain_warehouse(lake)
            conn = _open_lake(lake, read_only=True, wait_seconds=wait_seconds)
        else:
            conn = _open(path, read_only=True, wait_seconds=wait_seconds)
            _refuse_other_database(conn, path)
        stop = _Interrupter(conn)
        try:
            hold.stop_with(stop)
            with _stops_passed_on(conn):
                latest = latest_version("ducklake" if lake.lake else "duckdb")
                current = _check_not_newer(conn, path, latest)
                try:
                    yield conn
                except (duckdb.Error, WarehouseError) as exc:
                    if current < latest and _names_what_is_missing(exc):
                        raise WarehouseError(
                            f"warehouse {path} has schema version {current}, older than this "
                            f"newsflow's ({latest}): run `newsflow summarize --db {path}` once to "
                            f"upgrade it (the read failed: {str(exc).splitlines()[0]})"
                        ) from exc
                    raise
        finally:
            stop.close()


def _names_what_is_missing(exc: BaseException) -> bool:
    """A read failed on a table, column or macro the warehouse lacks (or its WarehouseError
    says so), as a read of a warehouse older than the code fails."""
    missing = (duckdb.CatalogException, duckdb.BinderException)
    return isinstance(exc, missing) or isinstance(exc.__cause__, missing)


def upgrade(path: str, *, wait_seconds: float = 60.0) -> None:
    """Apply the migrations an existing warehouse lacks. The flows that read before they write
    (summarize, reclean) start with it, so their reads find what this code reads; a warehouse
    that is up to date is only read."""
    with reader(path, wait_seconds=wait_seconds) as conn:
        backend = "ducklake" if parse_warehouse(path).lake else "duckdb"
        behind = schema_version(conn) < latest_version(backend)
    if behind:
        with writer(path, wait_seconds=wait_seconds):
            pass


def columns_and_rows(cursor: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    """A query's column names (there even with no row) and its rows; none for a statement that
    returns nothing."""
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


def interruptible(conn: duckdb.DuckDBPyConnection, run: Callable[[], T]) -> T:
    """`run()`, reads on `conn`, in a thread of its own, so that Ctrl-C stops them at once.

    Run in the main thread, DuckDB looks for Python's signals only between its tasks, and often
    missed a Ctrl-C: a long `newsflow query` kept running. Here the main thread waits, takes the
    KeyboardInterrupt (or Prefect's TerminationSignal, a run cancelled) and interrupts the query
    (conn.interrupt()), then passes it on once the thread has stopped, so the connection is not
    closed under a running query."""
    with ThreadPoolExecutor(1, thread_name_prefix="query") as worker:
        running = worker.submit(run)
        try:
            return running.result()
        except BaseException:
            if not running.done():  # a signal's exception, raised while the reads ran
                conn.interrupt()
            raise
