"""The near-duplicate index of a warehouse: LSH band keys in SQLite's B-tree, on local disk.

Why: DuckDB answers "which stored articles share a band bucket with these?" by scanning
minhash_bands, so the lookup grows with every stored article (on a lake in object storage, every
batch would read all its band files). A B-tree finds each key in a few 4 KB pages whatever the
size, and the candidates' signatures sit beside them, so verifying a candidate reads no column.

The index is derived data; the warehouse stays the source of truth. A batch's entries are written
(marked pending) before the DuckDB commit and confirmed after it, so after a crash the next load
finds the pending entries and settles each against DuckDB. An index made for another warehouse
(its first migration's time differs: another file copied over this one) or that disagrees with
the warehouse on the number of signatures (deleted, older copy, first use on an old warehouse) is
rebuilt.

A DuckDB file's index sits beside it. A DuckLake's sits beside a file catalog, or in the user's
cache for a PostgreSQL one, one per machine: other machines' writers commit too, so before each
load the index reads the lake's signature changes since the snapshot it last read (DuckLake's
table_changes, proportional to what changed, not to what is stored), its own machine's last
commit included: a lake's index stages nothing. One process at a time uses it; another writer on
the same machine waits for it a few seconds (a load holds it about a second, and a lake commits
one load at a time anyway), then joins minhash_bands in SQL.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from tasks.dedupe import band_buckets
from warehouse.db import disk_full_error, is_ducklake, sql, unwritable_error
from warehouse.db import made_at as warehouse_made_at

LOGGER = logging.getLogger(__name__)

INDEX_SUFFIX = ".lsh.sqlite"
_BAND_SHIFT = 58  # the band number goes into the top bits: one integer key per (band, bucket)
_LOW_DISK = 1 << 20  # free bytes under which an I/O error writing the index means a full disk
_REBUILD_CHUNK = 50_000  # signatures per chunk while rebuilding
INDEX_WAIT_SECONDS = 5.0  # how long a load waits for another process's hold on the index
_LOCK_POLL_SECONDS = 0.05
_SCHEMA = """
CREATE TABLE IF NOT EXISTS lsh_docs (
    doc        INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    cluster_id TEXT NOT NULL,
    signature  BLOB NOT NULL,      -- little-endian uint32 slots
    pending    INTEGER NOT NULL    -- 1 from before the DuckDB commit until confirmed after it
);
CREATE INDEX IF NOT EXISTS lsh_docs_pending ON lsh_docs (pending) WHERE pending = 1;
CREATE TABLE IF NOT EXISTS lsh_count (docs INTEGER NOT NULL);  -- one row: count(*) costs a scan
INSERT INTO lsh_count SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM lsh_count);
CREATE TABLE IF NOT EXISTS lsh_keys (
    key INTEGER NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (key, doc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lsh_lake (  -- for a lake: which one, and the snapshot the index reflects
    made_at  TEXT NOT NULL,
    snapshot INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lsh_made_for (  -- for a DuckDB file: which one (its first migration)
    made_at TEXT NOT NULL
);
"""
_CANDIDATES = """
SELECT probe.value, d.article_id, d.cluster_id, d.signature
FROM json_each(?) AS probe
JOIN lsh_keys k ON k.key = probe.value
JOIN lsh_docs d ON d.doc = k.doc
"""
_PENDING = "SELECT article_id FROM lsh_docs WHERE pending = 1"  # the partial index's condition
_COUNT_NEW = """
UPDATE lsh_count SET docs = docs + (
    SELECT count(*) FROM json_each(?) AS ids
    WHERE NOT EXISTS (SELECT 1 FROM lsh_docs WHERE article_id = ids.value)
)
"""
_COUNT_ONE_MORE = "UPDATE lsh_count SET docs = docs + 1"
_UPSERT_DOC = """
INSERT INTO lsh_docs (article_id, cluster_id, signature, pending) VALUES (?, ?, ?, ?)
ON CONFLICT (article_id) DO UPDATE SET
    cluster_id = excluded.cluster_id, signature = excluded.signature, pending = excluded.pending
"""
_DELETE_KEYS = """
DELETE FROM lsh_keys WHERE doc = ?1 AND key IN (SELECT value FROM json_each(?2))
"""
_INSERT_KEYS = """
INSERT OR IGNORE INTO lsh_keys (key, doc)
SELECT keys.value, (SELECT doc FROM lsh_docs WHERE article_id = ?) FROM json_each(?) AS keys
"""


@dataclass(frozen=True)
class IndexEntry:
    """One article's signature as the index stores it."""

    article_id: str
    cluster_id: str
    signature: np.ndarray
    buckets: list[int]


def band_key(band: int, bucket: int) -> int:
    """One signed 64-bit key for (band, bucket), as SQLite stores integers."""
    key = bucket ^ (band << _BAND_SHIFT)
    return key - (1 << 64) if key >= 1 << 63 else key


def index_path(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """Where the index of this connection's warehouse lives: beside a DuckDB file or a lake's file
    catalog, in the user's cache for a lake catalog on a server; None for an in-memory DB."""
    row = conn.execute(
        "SELECT path, type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return None if row is None else index_file(*row)


def index_file(path: str | None, kind: str) -> Path | None:
    """index_path for a database as duckdb_databases() lists it (kind "duckdb" or "ducklake")."""
    if not path or kind not in ("duckdb", "ducklake"):
        return None
    scheme, _, rest = path.partition(":")
    if kind == "ducklake" and scheme == "sqlite":
        return Path(rest + INDEX_SUFFIX)
    if kind == "ducklake" and scheme == "postgres":
        name = hashlib.sha1(path.encode()).hexdigest()[:16]
        return _cache_folder() / f"ducklake-{name}{INDEX_SUFFIX}"
    return Path(path + INDEX_SUFFIX)  # a DuckDB file, or a lake's DuckDB file catalog


def _cache_folder() -> Path:
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsflow"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class BandIndex:
    """An open index: look up a batch's band keys, stage its new entries, confirm them."""

    def __init__(self, path: Path, *, lake: bool = False) -> None:
        self.path = path
        self.lake = lake
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # WAL survives a process crash
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def candidates(
        self, probes: dict[int, list[int]], own_ids: dict[int, str]
    ) -> dict[int, dict[str, tuple[str, np.ndarray]]]:
        """For each incoming index, the stored articles sharing a band: id -> (cluster, sig)."""
        wanted: dict[int, list[int]] = {}
        for idx, buckets in probes.items():
            for band, bucket in enumerate(buckets):
                wanted.setdefault(band_key(band, bucket), []).append(idx)
        if not wanted:
            return {}
        found: dict[int, dict[str, tuple[str, np.ndarray]]] = {}
        rows = self._db.execute(_CANDIDATES, [_json_ints(wanted)]).fetchall()
        for key, article_id, cluster_id, signature in rows:
            for idx in wanted[key]:
                if article_id != own_ids[idx]:
                    found.setdefault(idx, {})[article_id] = (
                        cluster_id,
                        np.frombuffer(signature, dtype="<u4"),
                    )
        return found

    def stage(self, entries: list[IndexEntry]) -> None:
        """Write a batch's entries as pending, before DuckDB commits the same rows. A lake's index
        takes them from the lake's changes at the next catch-up instead: there a commit may lose
        to another writer's, and then what the articles are is what the winner committed."""
        if self.lake:
            return
        with self._transaction():
            self._db.execute(_COUNT_NEW, [json.dumps([e.article_id for e in entries])])
            for entry in entries:
                self._put(entry, pending=True)

    def _put(self, entry: IndexEntry, *, pending: bool) -> None:
        """Write an entry and the keys of its signature (an entry already there keeps its count)."""
        self._db.execute(
            _UPSERT_DOC,
            [entry.article_id, entry.cluster_id, _blob(entry.signature), int(pending)],
        )
        keys = [band_key(band, bucket) for band, bucket in enumerate(entry.buckets)]
        self._db.execute(_INSERT_KEYS, [entry.article_id, _json_ints(keys)])

    def confirm(self) -> None:
        """DuckDB committed: the pending entries are now true (a lake's index staged none)."""
        if self.lake:
            return
        with self._transaction():
            self._db.execute("UPDATE lsh_docs SET pending = 0 WHERE pending = 1")

    def settle(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Bring the index in line with the warehouse as this transaction sees it: settle pending
        entries, take in a lake's commits since the last settle, rebuild on disagreement."""
        lake = conn.execute(sql("band_index_snapshots")).fetchone() if self.lake else None
        why = None if self.lake else self._made_for_another(conn)
        pending = [row[0] for row in self._db.execute(_PENDING)] if why is None else []
        if pending:
            self._settle_pending(conn, pending)
        if lake is not None:
            why = self._catch_up(conn, lake)
        if why is None:
            stored = conn.execute("SELECT count(*) FROM minhash_signatures").fetchone()[0]
            indexed = self._db.execute("SELECT docs FROM lsh_count").fetchone()[0]
            if stored != indexed:
                why = f"holds {indexed} signatures, the warehouse {stored}"
        if why is not None:
            LOGGER.warning("near-duplicate index %s %s: rebuilding it", self.path, why)
            self.rebuild(conn, lake)

    def _made_for_another(self, conn: duckdb.DuckDBPyConnection) -> str | None:
        """Why this index is not the DuckDB file's own (None when it is); a new, empty index
        takes the file's identity."""
        made_at = warehouse_made_at(conn)
        row = self._db.execute("SELECT made_at FROM lsh_made_for").fetchone()
        if row is not None:
            same = row[0] == made_at
            return None if same else f"was made for a warehouse made at {row[0]}, not {made_at}"
        if self._db.execute("SELECT docs FROM lsh_count").fetchone()[0] > 0:
            return "does not record which warehouse it was made for (an older newsflow's)"
        self._db.execute("INSERT INTO lsh_made_for VALUES (?)", [made_at])
        return None

    def _catch_up(self, conn: duckdb.DuckDBPyConnection, lake: tuple) -> str | None:
        """Take in the lake's signature changes since the snapshot the index reflects (all of them
        the first time); or say why it cannot (another lake, expired snapshots) so it is rebuilt.
        `lake` is the band_index_snapshots row this transaction reads."""
        read = self._db.execute("SELECT made_at, snapshot FROM lsh_lake").fetchone()
        current, oldest, made_at = lake
        if read is None:
            LOGGER.info("near-duplicate index %s: reading this lake for the first time", self.path)
            self.rebuild(conn, lake)
            return None
        if read[0] != made_at:
            return f"was made for a lake made at {read[0]}, not {made_at}"
        since = read[1]
        if since > current or since + 1 < oldest:
            return f"read the lake up to snapshot {since}, outside its snapshots {oldest}-{current}"
        if since == current:
            return None
        changes = conn.execute(
            sql("band_index_changes"), {"since": since + 1, "until": current}
        ).fetchall()
        with self._transaction():
            for article_id, present, signature, cluster_id in changes:
                row = self._db.execute(
                    "SELECT signature, cluster_id FROM lsh_docs WHERE article_id = ?", [article_id]
                ).fetchone()
                if present and row == (_blob(np.asarray(signature)), cluster_id):
                    continue  # read already (a rebuild reads ahead of its snapshot)
                if row is not None:
                    self._forget(article_id)
                if present:
                    self._add_committed(article_id, cluster_id, signature)
            self._db.execute("UPDATE lsh_lake SET snapshot = ?", [current])
        return None

    def _settle_pending(self, conn: duckdb.DuckDBPyConnection, pending: list[str]) -> None:
        """Entries whose DuckDB commit never happened go; the others are written again as DuckDB
        holds them, with the keys of that signature."""
        rows = conn.execute(sql("band_index_signatures"), {"ids": pending}).fetchall()
        committed = {article_id: (story, signature) for article_id, signature, story in rows}
        with self._transaction():
            for article_id in pending:
                self._forget(article_id)  # with the keys of the signature it was staged with
                if article_id in committed:
                    self._add_committed(article_id, *committed[article_id])
        LOGGER.info("near-duplicate index: settled %d entries left pending", len(pending))

    def _add_committed(self, article_id: str, story: str, signature: list[int]) -> None:
        """A new entry for a signature the warehouse holds, with its keys and in the count."""
        signature = np.asarray(signature, np.uint32)
        self._put(IndexEntry(article_id, story, signature, band_buckets(signature)), pending=False)
        self._db.execute(_COUNT_ONE_MORE)

    def _forget(self, article_id: str) -> None:
        """Drop an entry and the keys of its signature."""
        row = self._db.execute(
            "SELECT doc, signature FROM lsh_docs WHERE article_id = ?", [article_id]
        ).fetchone()
        keys = [
            band_key(band, bucket)
            for band, bucket in enumerate(band_buckets(np.frombuffer(row[1], dtype="<u4")))
        ]
        self._db.execute(_DELETE_KEYS, [row[0], _json_ints(keys)])
        self._db.execute("DELETE FROM lsh_docs WHERE doc = ?", [row[0]])
        self._db.execute("UPDATE lsh_count SET docs = docs - 1")

    def rebuild(self, conn: duckdb.DuckDBPyConnection, lake: tuple | None) -> None:
        """Refill the index from minhash_signatures and minhash_bands (keys in sorted order).
        For a lake, `lake` is the band_index_snapshots row read before the rows (None otherwise):
        changes committed while they are read come again in the next catch-up, which takes them
        in without harm."""
        with self._transaction():
            self._db.execute("DELETE FROM lsh_keys")
            self._db.execute("DELETE FROM lsh_docs")
            reader = conn.execute(sql("band_index_docs")).to_arrow_reader(_REBUILD_CHUNK)
            for chunk in reader:
                self._db.executemany(  # sqlite3's bulk path: one prepared statement
                    "INSERT INTO lsh_docs (doc, article_id, cluster_id, signature, pending) "
                    "VALUES (?, ?, ?, ?, 0)",
                    zip(
                        chunk["doc"].to_pylist(),
                        chunk["article_id"].to_pylist(),
                        chunk["cluster_id"].to_pylist(),
                        _blobs(chunk["signature"]),
                        strict=True,
                    ),
                )
            reader = conn.execute(sql("band_index_keys")).to_arrow_reader(_REBUILD_CHUNK * 32)
            for chunk in reader:
                keys = chunk["key"].to_numpy().view(np.int64)
                self._db.executemany(
                    "INSERT OR IGNORE INTO lsh_keys (key, doc) VALUES (?, ?)",
                    zip(keys.tolist(), chunk["doc"].to_pylist(), strict=True),
                )
            self._db.execute("UPDATE lsh_count SET docs = (SELECT count(*) FROM lsh_docs)")
            self._db.execute("DELETE FROM lsh_lake")
            self._db.execute("DELETE FROM lsh_made_for")
            if lake is not None:
                current, _, made_at = lake
                self._db.execute("INSERT INTO lsh_lake VALUES (?, ?)", [made_at, current])
            else:
                made_at = warehouse_made_at(conn)
                self._db.execute("INSERT INTO lsh_made_for VALUES (?)", [made_at])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _json_ints(values: object) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"


def _blob(signature: np.ndarray) -> bytes:
    return np.asarray(signature, dtype="<u4").tobytes()


def _blobs(signatures: pa.ListArray) -> Iterator[bytes]:
    """Each signature of an Arrow list column as bytes, without a Python int per slot."""
    values = signatures.values.to_numpy().astype("<u4").tobytes()
    offsets = signatures.offsets.to_numpy() * 4
    for start, end in zip(offsets[:-1], offsets[1:], strict=True):
        yield values[start:end]


@contextmanager
def opened_band_index(conn: duckdb.DuckDBPyConnection) -> Iterator[BandIndex | None]:
    """The index of the writer's warehouse, this process's alone until the block ends; None for
    an in-memory warehouse, or when another process on this machine held a lake's index for
    INDEX_WAIT_SECONDS. Settle it (BandIndex.settle) in each write transaction before use."""
    path = index_path(conn)
    if path is None:
        yield None
        return
    lake = is_ducklake(conn)  # a DuckDB file is one process's already, by DuckDB's own lock
    with _write_errors(path), _held_alone(path, INDEX_WAIT_SECONDS if lake else None) as held:
        if not held:
            LOGGER.info("near-duplicate index %s is in use: this load joins minhash_bands", path)
            yield None
            return
        with closing(BandIndex(path, lake=lake)) as index:
            yield index


@contextmanager
def _held_alone(path: Path, wait_seconds: float | None = 0.0) -> Iterator[bool]:
    """An exclusive lock on the index (a file beside it), unless another process holds it for
    longer than wait_seconds, or the file system has no locks; None takes no lock."""
    if wait_seconds is None:
        yield True
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_file = open(lock_path, "a")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        warehouse = str(path)[: -len(INDEX_SUFFIX)]
        raise unwritable_error(warehouse, f"{lock_path.name}: {exc.strerror}") from None
    with lock_file as lock:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(_LOCK_POLL_SECONDS)
            except OSError as exc:  # e.g. a network file system without flock
                LOGGER.warning("cannot lock the near-duplicate index %s (%s)", path, exc.strerror)
                yield False
                return
        yield True  # closing the file releases the lock


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """A refused write of the index (disk full, read-only) as one line, like the warehouse's."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        warehouse = str(path)[: -len(INDEX_SUFFIX)]
        full = name == "SQLITE_FULL" or (
            name.startswith("SQLITE_IOERR") and shutil.disk_usage(path.parent).free < _LOW_DISK
        )
        if full:
            raise disk_full_error(warehouse, f"{path.name}: {exc}") from None
        if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            raise unwritable_error(warehouse, f"{path.name}: {exc}") from None
        raise
