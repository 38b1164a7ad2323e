"""The near-duplicate index beside a DuckDB warehouse file: LSH band keys in SQLite's B-tree.

Why: DuckDB answers "which stored articles share a band bucket with these?" by scanning
minhash_bands, so the lookup grows with every stored article. A B-tree finds each key in a few
4 KB pages whatever the size, and the candidates' signatures sit beside them, so verifying a
candidate reads no DuckDB column either.

The index is derived data; DuckDB stays the source of truth. A batch's entries are written
(marked pending) before the DuckDB commit and confirmed after it, so after a crash the next load
finds the pending entries and settles each against DuckDB. An index that disagrees with DuckDB on
the number of signatures (deleted, older copy, first use on an old warehouse) is rebuilt from it.
A DuckLake has no local file to keep an index beside: it keeps the SQL band join.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from tasks.dedupe import band_buckets
from warehouse.db import disk_full_error, sql, unwritable_error

LOGGER = logging.getLogger(__name__)

INDEX_SUFFIX = ".lsh.sqlite"
_BAND_SHIFT = 58  # the band number goes into the top bits: one integer key per (band, bucket)
_LOW_DISK = 1 << 20  # free bytes under which an I/O error writing the index means a full disk
_REBUILD_CHUNK = 50_000  # signatures per chunk while rebuilding
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
_UPSERT_DOC = """
INSERT INTO lsh_docs (article_id, cluster_id, signature, pending) VALUES (?, ?, ?, 1)
ON CONFLICT (article_id) DO UPDATE SET signature = excluded.signature, pending = 1
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
    """Where the index of this connection's warehouse lives; None for a lake or in-memory DB."""
    row = conn.execute(
        "SELECT path, type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if row is None or row[1] != "duckdb" or not row[0]:
        return None
    return Path(row[0] + INDEX_SUFFIX)


class BandIndex:
    """An open index: look up a batch's band keys, stage its new entries, confirm them."""

    def __init__(self, path: Path) -> None:
        self.path = path
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
        """Write a batch's entries as pending, before DuckDB commits the same rows."""
        with self._transaction():
            self._db.execute(_COUNT_NEW, [json.dumps([e.article_id for e in entries])])
            for entry in entries:
                self._db.execute(
                    _UPSERT_DOC,
                    [entry.article_id, entry.cluster_id, _blob(entry.signature)],
                )
                keys = [band_key(band, bucket) for band, bucket in enumerate(entry.buckets)]
                self._db.execute(_INSERT_KEYS, [entry.article_id, _json_ints(keys)])

    def confirm(self) -> None:
        """DuckDB committed: the pending entries are now true."""
        with self._transaction():
            self._db.execute("UPDATE lsh_docs SET pending = 0 WHERE pending = 1")

    def settle(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Bring the index in line with DuckDB: settle pending entries, rebuild on disagreement."""
        pending = [row[0] for row in self._db.execute(_PENDING)]
        if pending:
            self._settle_pending(conn, pending)
        stored = conn.execute("SELECT count(*) FROM minhash_signatures").fetchone()[0]
        indexed = self._db.execute("SELECT docs FROM lsh_count").fetchone()[0]
        if stored != indexed:
            LOGGER.warning(
                "near-duplicate index %s holds %d signatures, the warehouse %d: rebuilding it",
                self.path, indexed, stored,
            )  # fmt: skip
            self.rebuild(conn)

    def _settle_pending(self, conn: duckdb.DuckDBPyConnection, pending: list[str]) -> None:
        """Entries whose DuckDB commit never happened go; the others take DuckDB's signature."""
        rows = conn.execute(sql("band_index_signatures"), {"ids": pending}).fetchall()
        committed = {article_id: signature for article_id, signature in rows}
        with self._transaction():
            for article_id in pending:
                if article_id in committed:
                    self._db.execute(
                        "UPDATE lsh_docs SET signature = ?, pending = 0 WHERE article_id = ?",
                        [_blob(np.asarray(committed[article_id])), article_id],
                    )
                else:
                    self._forget(article_id)
        LOGGER.info("near-duplicate index: settled %d entries left pending", len(pending))

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

    def rebuild(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Refill the index from minhash_signatures and minhash_bands (keys in sorted order)."""
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
    """The settled index of the writer's warehouse, or None where there is none (a lake)."""
    path = index_path(conn)
    if path is None:
        yield None
        return
    with _write_errors(path), closing(BandIndex(path)) as index:
        index.settle(conn)
        yield index


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
