"""The band index finds near copies and stays true to its warehouse: after crashes, and on a lake
after other writers' commits."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tasks.dedupe import fingerprints
from tests.test_load import OTHER, REPORT, _doc, _load, _rows, _syndicated
from warehouse import band_index
from warehouse.band_index import (
    INDEX_SUFFIX,
    BandIndex,
    IndexEntry,
    _held_alone,
    index_file,
    index_path,
    opened_band_index,
)
from warehouse.db import write_transaction, writer
from warehouse.integrity import check_warehouse


def _index_rows(db_path: str, query: str) -> list[tuple]:
    with sqlite3.connect(db_path + INDEX_SUFFIX) as index:
        return index.execute(query).fetchall()


def _near_copy_joins_the_story(db_path: str, url: str) -> None:
    copy = _doc(url, _syndicated(REPORT), title="Another headline")
    assert _load(db_path, [copy]).duplicates == {"near": 1}
    assert _rows(
        db_path,
        f"SELECT d.cluster_id = o.id FROM articles d, articles o "
        f"WHERE d.url = '{url}' AND o.url LIKE '%a.example%'",
    ) == [(True,)]


def test_each_load_indexes_its_signatures_beside_the_warehouse(db_path):
    _load(db_path, [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)])
    stored = _rows(db_path, "SELECT article_id FROM minhash_signatures ORDER BY 1")
    assert _index_rows(db_path, "SELECT article_id FROM lsh_docs ORDER BY 1") == stored
    assert _index_rows(db_path, "SELECT count(*), sum(pending) FROM lsh_docs") == [(2, 0)]
    assert _index_rows(db_path, "SELECT count(*) FROM lsh_keys") == [(64,)]  # 32 bands each
    _near_copy_joins_the_story(db_path, "https://wire.example/story")


def test_a_deleted_index_is_rebuilt_from_the_warehouse(db_path, caplog):
    _load(db_path, [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)])
    for path in Path(db_path).parent.glob(Path(db_path).name + INDEX_SUFFIX + "*"):
        path.unlink()
    _near_copy_joins_the_story(db_path, "https://wire.example/story")
    assert _index_rows(db_path, "SELECT count(*), sum(pending) FROM lsh_docs") == [(3, 0)]
    assert "holds 0 signatures, the warehouse 2: rebuilding it" in caplog.text


def test_an_index_beside_another_warehouse_copied_over_the_file_is_rebuilt(tmp_path, caplog):
    """The other warehouse holds as many signatures, but not the stories the index points at."""
    ours, other = str(tmp_path / "ours.duckdb"), str(tmp_path / "other.duckdb")
    _load(ours, [_doc("https://a.example/news/1", REPORT)])
    _load(other, [_doc("https://b.example/k", OTHER)])
    shutil.copyfile(other, ours)  # ours.duckdb.lsh.sqlite stays: same count, other stories
    copy = _doc("https://wire.example/story", _syndicated(REPORT), title="Another headline")
    assert _load(ours, [copy]).duplicates == {}  # REPORT's story is not in this warehouse
    assert "was made for a warehouse made at" in caplog.text and "rebuilding it" in caplog.text
    assert check_warehouse(ours) == []
    stored = _rows(ours, "SELECT article_id FROM minhash_signatures ORDER BY 1")
    assert _index_rows(ours, "SELECT article_id FROM lsh_docs ORDER BY 1") == stored


def test_an_index_that_records_no_warehouse_is_rebuilt(db_path, caplog):
    """An index an older newsflow made cannot say which warehouse it holds: it is made again."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    with sqlite3.connect(db_path + INDEX_SUFFIX) as index:
        index.execute("DELETE FROM lsh_made_for")
    _near_copy_joins_the_story(db_path, "https://wire.example/story")
    assert "does not record which warehouse" in caplog.text
    assert _index_rows(db_path, "SELECT count(*) FROM lsh_made_for") == [(1,)]


def test_entries_of_a_load_that_never_committed_are_dropped(db_path, caplog):
    """A crash after the index was written but before DuckDB committed leaves a phantom."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    (phantom,) = fingerprints([_doc("https://lost.example/1", OTHER)])
    with writer(db_path) as conn:  # the crashed load: index staged, DuckDB never committed
        staged = BandIndex(index_path(conn))
        staged.stage([IndexEntry(phantom.article_id, "lost", phantom.signature, phantom.buckets)])
        staged.close()
    counts = _load(db_path, [_doc("https://c.example/other", _syndicated(OTHER))])
    assert (counts.new, counts.duplicates) == (1, {})  # not filed under the phantom's story
    assert (
        _index_rows(db_path, f"SELECT 1 FROM lsh_docs WHERE article_id = '{phantom.article_id}'")
        == []
    )
    stored = _rows(db_path, "SELECT count(*) FROM minhash_signatures")
    assert _index_rows(db_path, "SELECT count(*) FROM lsh_docs") == stored == [(2,)]
    assert _index_rows(db_path, "SELECT docs FROM lsh_count") == stored
    assert "rebuilding" not in caplog.text  # settled entry by entry, not rebuilt


def test_entries_committed_but_never_confirmed_are_kept(db_path, caplog):
    """A crash between the DuckDB commit and the index's confirmation loses no entry."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    with sqlite3.connect(db_path + INDEX_SUFFIX) as index:
        index.execute("UPDATE lsh_docs SET pending = 1")
    _near_copy_joins_the_story(db_path, "https://wire.example/story")
    assert _index_rows(db_path, "SELECT count(*), sum(pending) FROM lsh_docs") == [(2, 0)]
    assert "rebuilding" not in caplog.text


def test_a_new_version_replaces_the_indexed_signature(db_path):
    _load(db_path, [_doc("https://a.example/news/1", OTHER)])
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])  # the page now carries REPORT
    assert _index_rows(db_path, "SELECT count(*) FROM lsh_docs") == [(1,)]
    _near_copy_joins_the_story(db_path, "https://wire.example/story")


# --- a lake's index, which other writers' commits reach through the lake's change feed ---------


def _as_indexed(url: str) -> list[tuple]:
    """The lake's signatures and stories as the index stores them."""
    rows = _rows(
        url,
        "SELECT s.article_id, coalesce(a.cluster_id, s.article_id), s.signature "
        "FROM minhash_signatures s LEFT JOIN articles a ON a.id = s.article_id ORDER BY 1",
    )
    return [(i, c, np.asarray(sig, dtype="<u4").tobytes()) for i, c, sig in rows]


@contextmanager
def _another_machine(catalog: Path) -> Iterator[None]:
    """Loads meanwhile run as another machine's would: this machine's index sees none of them."""
    with _held_alone(Path(f"{catalog}{INDEX_SUFFIX}")) as held:
        assert held
        yield


@pytest.fixture
def short_index_wait(monkeypatch):
    """Loads give up on a held index at once, as if they ran on another machine."""
    monkeypatch.setattr(band_index, "INDEX_WAIT_SECONDS", 0.0)


def test_a_lake_indexes_beside_its_catalog_and_reads_other_writers_commits(
    tmp_path, caplog, short_index_wait
):
    caplog.set_level(logging.INFO, logger="warehouse.band_index")
    catalog = tmp_path / "catalog.sqlite"
    url = f"ducklake:sqlite:{catalog}"
    _load(url, [_doc("https://b.example/k", OTHER)])
    assert "reading this lake for the first time" in caplog.text
    assert _index_rows(str(catalog), "SELECT count(*) FROM lsh_docs") == [(0,)]  # staged nothing

    with _another_machine(catalog):
        report = _load(url, [_doc("https://a.example/news/1", REPORT)])  # the SQL band join
        changed = _load(url, [_doc("https://b.example/k", OTHER + " Flights resumed on Friday.")])
    assert (report.new, changed.updated) == (1, 1)
    assert _index_rows(str(catalog), "SELECT count(*) FROM lsh_docs") == [(0,)]  # not read yet

    _near_copy_joins_the_story(url, "https://wire.example/story")  # found through the index
    _catch_up(url)
    indexed = _index_rows(
        str(catalog), "SELECT article_id, cluster_id, signature FROM lsh_docs ORDER BY 1"
    )
    assert indexed == _as_indexed(url)  # every commit read in, b's changed signature replaced
    assert _index_rows(str(catalog), "SELECT docs, sum(pending) FROM lsh_count, lsh_docs") == [
        (3, 0)
    ]
    assert "rebuilding it" not in caplog.text  # caught up, not rebuilt
    ((snapshot,),) = _rows(url, "SELECT id FROM ducklake_current_snapshot(current_database())")
    assert _index_rows(str(catalog), "SELECT snapshot FROM lsh_lake") == [(snapshot,)]


def _catch_up(url: str) -> None:
    """What the next load does first: bring this machine's index up to the lake's snapshot."""
    with writer(url) as conn, opened_band_index(conn) as index:
        write_transaction(conn, lambda: index.settle(conn), claim=False)  # it writes no row


def test_an_index_of_a_lake_made_again_under_the_same_url_is_rebuilt(tmp_path, caplog):
    catalog = tmp_path / "catalog.sqlite"
    url = f"ducklake:sqlite:{catalog}"
    _load(url, [_doc("https://a.example/news/1", REPORT)])
    catalog.unlink()
    shutil.rmtree(f"{catalog}.files")
    _load(url, [_doc("https://b.example/k", OTHER)])
    assert "was made for a lake made at" in caplog.text
    _catch_up(url)
    indexed = _index_rows(
        str(catalog), "SELECT article_id, cluster_id, signature FROM lsh_docs ORDER BY 1"
    )
    assert indexed == _as_indexed(url) and len(indexed) == 1


def test_an_index_whose_snapshots_were_expired_is_rebuilt(tmp_path, caplog, short_index_wait):
    catalog = tmp_path / "catalog.sqlite"
    url = f"ducklake:sqlite:{catalog}"
    _load(url, [_doc("https://b.example/k", OTHER)])
    with _another_machine(catalog):
        _load(url, [_doc("https://a.example/news/1", REPORT)])
    with writer(url) as conn:  # lake maintenance: the changes since the index's snapshot are gone
        conn.execute("CALL ducklake_expire_snapshots(current_database(), older_than => now())")
    _near_copy_joins_the_story(url, "https://wire.example/story")
    assert "outside its snapshots" in caplog.text and "rebuilding it" in caplog.text
    _catch_up(url)
    indexed = _index_rows(
        str(catalog), "SELECT article_id, cluster_id, signature FROM lsh_docs ORDER BY 1"
    )
    assert indexed == _as_indexed(url)


def test_a_crash_before_a_new_version_committed_keeps_the_old_one_findable(db_path, caplog):
    """The load of b's new text staged its entry, then died before DuckDB committed it."""
    _load(db_path, [_doc("https://b.example/k", OTHER)])
    (lost,) = fingerprints([_doc("https://b.example/k", _syndicated(REPORT))])
    with writer(db_path) as conn:
        staged = BandIndex(index_path(conn))
        staged.stage([IndexEntry(lost.article_id, "lost", lost.signature, lost.buckets)])
        staged.close()
    copy = OTHER.replace("Hospitals reported dozens of", "Doctors counted scores of")
    counts = _load(db_path, [_doc("https://c.example/k", copy, title="Rockets")])
    assert counts.duplicates == {"near": 1}  # by the keys of b's committed signature
    rows = _rows(db_path, "SELECT article_id, signature FROM minhash_signatures ORDER BY 1")
    committed = [(i, np.asarray(sig, dtype="<u4").tobytes()) for i, sig in rows]
    assert (
        _index_rows(db_path, "SELECT article_id, signature FROM lsh_docs ORDER BY 1") == committed
    )
    assert "rebuilding" not in caplog.text


def test_a_load_waits_briefly_for_an_index_another_process_holds(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="warehouse.band_index")
    catalog = tmp_path / "catalog.sqlite"
    url = f"ducklake:sqlite:{catalog}"
    _load(url, [_doc("https://b.example/k", OTHER)])
    held, release = threading.Event(), threading.Event()

    def other_process() -> None:  # its own open file: flock tells it apart as another holder
        with _held_alone(Path(f"{catalog}{INDEX_SUFFIX}")):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=other_process)
    holder.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    _load(url, [_doc("https://a.example/news/1", REPORT)])
    holder.join()
    assert time.monotonic() - started >= 0.5  # it waited for the hold to end
    assert "is in use" not in caplog.text  # and then used the index, not the SQL join
    assert _index_rows(str(catalog), "SELECT count(*) FROM lsh_docs") == [(1,)]  # b, read in


def test_a_lake_on_a_file_system_without_locks_still_finds_near_copies(
    tmp_path, caplog, monkeypatch
):
    """A network file system may refuse flock (ENOLCK): loads then join minhash_bands in SQL."""
    url = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    _load(url, [_doc("https://a.example/news/1", REPORT)])

    def no_locks(*_):  # what such a file system answers; there is none to mount here
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(band_index.fcntl, "flock", no_locks)
    _near_copy_joins_the_story(url, "https://wire.example/story")
    assert "cannot lock the near-duplicate index" in caplog.text


def test_where_each_warehouse_keeps_its_index(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert index_file("/srv/news.duckdb", "duckdb") == Path("/srv/news.duckdb" + INDEX_SUFFIX)
    assert index_file("/srv/c.ducklake", "ducklake") == Path("/srv/c.ducklake" + INDEX_SUFFIX)
    assert index_file("sqlite:/srv/c.sqlite", "ducklake") == Path("/srv/c.sqlite" + INDEX_SUFFIX)
    on_server = index_file("postgres:dbname=news host=pg.internal", "ducklake")
    assert on_server.parent == tmp_path / "cache" / "newsflow"  # one per machine
    assert on_server.name.startswith("ducklake-") and on_server.name.endswith(INDEX_SUFFIX)
    assert on_server != index_file("postgres:dbname=other host=pg.internal", "ducklake")
    assert index_file(None, "duckdb") is None  # in memory
