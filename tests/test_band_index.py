"""The band index beside a DuckDB warehouse finds near copies and stays true to it after crashes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tasks.dedupe import fingerprints
from tests.test_load import OTHER, REPORT, _doc, _load, _rows, _syndicated
from warehouse.band_index import INDEX_SUFFIX, BandIndex, IndexEntry, index_path
from warehouse.db import writer


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


def test_a_ducklake_warehouse_has_no_index_file(tmp_path):
    with writer(f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}") as conn:
        assert index_path(conn) is None
    assert not list(tmp_path.glob("*" + INDEX_SUFFIX + "*"))
