"""A DuckLake warehouse: the URL forms, the ingest flow into one, and writer processes at once."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pwd
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.dedupe import Fingerprint, fingerprints
from tasks.load import write_batch
from tasks.records import Document, FetchResult
from tests.conftest import ROOT, SAMPLES
from tests.documents import cleaned_document
from tests.test_band_index import _as_indexed
from warehouse import band_index
from warehouse.db import (
    WarehouseError,
    WarehouseLocked,
    is_ducklake,
    parse_warehouse,
    reader,
    write_transaction,
    writer,
)
from warehouse.integrity import check_warehouse
from warehouse.queries import search_articles

SEED = 20210816
ARTICLES = 32
BATCH = 8
EXACT_FROM = 24  # articles 24..31 repeat the texts of 0..7 under other URLs
NEAR_FROM = 20  # articles 20..23 are 8..11 with a few words changed
SAMPLE_PAGES = (
    "2021-08-13_asia-wire_herat-kandahar.html",
    "2021-08-13_global-desk_herat-kandahar-syndicated.html",
    "2021-08-07_asia-wire_sheberghan.html",
)
CHILD_WAIT = 120.0  # seconds a writer process may take on a loaded two-core machine
_FORK = multiprocessing.get_context("fork")  # children inherit the imports: no prefect start-up
COUNTS = """
SELECT (SELECT count(*) FROM articles), (SELECT count(DISTINCT id) FROM articles),
       (SELECT count(DISTINCT cluster_id) FROM articles),
       (SELECT count(*) FROM articles WHERE duplicate_kind = 'exact'),
       (SELECT count(*) FROM articles WHERE duplicate_kind = 'near'),
       (SELECT count(*) FROM article_versions), (SELECT count(*) FROM minhash_signatures),
       (SELECT count(*) FROM pages)
"""
COUNT_NAMES = ("articles", "ids", "stories", "exact", "near", "versions", "signatures", "pages")


@dataclass
class Batch:
    fetches: list[FetchResult]
    documents: list[Document]
    prints: list[Fingerprint]


def _text(index: int, words: list[str]) -> str:
    """A distinct ~300-word text; the copies above EXACT_FROM / NEAR_FROM repeat an earlier one."""
    if index >= EXACT_FROM:
        return _text(index - EXACT_FROM, words)
    if index >= NEAR_FROM:
        body = _text(index - NEAR_FROM + 8, words).split()
        body[100:103] = ["reportedly", "late", "Saturday"]
        return " ".join(body)
    rng = random.Random(SEED * 1000 + index)
    return f"Report {index}. " + " ".join(rng.choices(words, k=300)) + "."


def _document(index: int, words: list[str]) -> Document:
    return cleaned_document(
        f"https://wire{index % 4}.example/2021/08/story-{index}",
        _text(index, words),
        source_name="lake",
        title=f"Story {index}",
        site_name=f"Wire {index % 4}",
        published_at=datetime(2021, 8, 1 + index % 15, 8, tzinfo=UTC),
        published_offset="+04:30",
    )


@pytest.fixture(scope="module")
def batches() -> list[Batch]:
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(4, 9))) for _ in range(4000)]
    docs = [_document(i, words) for i in range(ARTICLES)]
    chunks = [docs[i : i + BATCH] for i in range(0, ARTICLES, BATCH)]
    return [Batch([d.fetch for d in c], c, fingerprints(c)) for c in chunks]  # type: ignore[misc]


def _load(url: str, batches: list[Batch], run_id: str) -> None:
    for batch in batches:
        write_batch(
            url,
            run_id=run_id,
            fetches=batch.fetches,
            documents=batch.documents,
            prints=batch.prints,
            lock_wait_seconds=CHILD_WAIT,
        )


class _Messages(logging.Handler):
    """Collects the log messages that contain `text` (a rerun's, a rebuild's)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.messages.append(record.getMessage())


def _writer_child(url: str, batches: list[Batch], run_id: str, index: Path, start, results) -> None:
    """A writer process as on a machine of its own (its own band index at `index`): wait for the
    other, load its batches, report how many loads reran."""
    band_index.index_path = lambda conn: index  # each machine keeps its own index
    reruns = _Messages("committed first")  # write_transaction reran after a concurrent commit
    log = logging.getLogger("warehouse.db")
    log.addHandler(reruns)
    log.setLevel(logging.INFO)
    start.wait(CHILD_WAIT)
    _load(url, batches, run_id)
    results.put((run_id, len(reruns.messages)))


def _halves(batches: list[Batch]) -> tuple[list[Batch], list[Batch]]:
    """All but the last batch, and all but the first backwards: the middle ones are loaded twice."""
    return batches[:-1], list(reversed(batches[1:]))


def _two_writers_at_once(
    url: str, batches: list[Batch], tag: str, indexes: list[Path]
) -> dict[str, int]:
    """Two processes, started together, load overlapping halves, one of them backwards."""
    first, second = _halves(batches)
    start, results = _FORK.Barrier(2), _FORK.Queue()
    children = [
        _FORK.Process(
            target=_writer_child, args=(url, part, f"{tag}-{n}", indexes[n], start, results)
        )
        for n, part in enumerate((first, second))
    ]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join(CHILD_WAIT)
        assert [c.exitcode for c in children] == [0, 0], "a writer process failed or hung"
        return dict(results.get(timeout=5) for _ in children)
    finally:
        for child in children:
            if child.is_alive():
                child.kill()


def _counts(url: str) -> dict[str, int]:
    with reader(url) as conn:
        return dict(zip(COUNT_NAMES, conn.execute(COUNTS).fetchone(), strict=True))


def _rows(url: str, query: str) -> list[tuple]:
    with reader(url) as conn:
        return conn.execute(query).fetchall()


def _snapshots(catalog: Path) -> int:
    """How many snapshots a SQLite catalog holds: one more for each commit."""
    with closing(sqlite3.connect(catalog)) as db:
        return db.execute("SELECT count(*) FROM ducklake_snapshot").fetchone()[0]


def _refused_by_writer_and_reader(url: str, says: str) -> None:
    """Opening `url` to write and to read both fail with a message that starts with `says`."""
    for opened in (writer, reader):
        with pytest.raises(WarehouseError, match=f"^{re.escape(says)}"), opened(url):
            pass


def _lake(tmp_path: Path, name: str = "lake") -> str:
    return f"ducklake:sqlite:{tmp_path / name / 'catalog.sqlite'}"


# --- the URL ------------------------------------------------------------------------------------


def test_warehouse_url_forms(tmp_path: Path) -> None:
    plain = parse_warehouse("warehouse/news.duckdb")
    assert (plain.lake, plain.catalog_kind, plain.catalog) == (
        False,
        "duckdb",
        "warehouse/news.duckdb",
    )
    lite = parse_warehouse(f"ducklake:sqlite:{tmp_path}/c.sqlite")
    assert (lite.lake, lite.catalog_kind) == (True, "sqlite")
    assert lite.data_path == f"{tmp_path}/c.sqlite.files/"  # a sibling folder by default
    own = parse_warehouse(f"ducklake:{tmp_path}/c.ducklake?data={tmp_path}/parquet")
    assert (own.catalog_kind, own.catalog, own.data_path) == (
        "duckdb", f"{tmp_path}/c.ducklake", f"{tmp_path}/parquet/"
    )  # fmt: skip
    pg = parse_warehouse("ducklake:postgres:dbname=news host=db.internal?data=s3://bucket/lake")
    assert (pg.catalog_kind, pg.catalog, pg.data_path) == (
        "postgres", "dbname=news host=db.internal", "s3://bucket/lake/"
    )  # fmt: skip
    assert parse_warehouse("ducklake:postgres:dbname=news").data_path is None  # the catalog's
    with pytest.raises(WarehouseError, match="names no catalog"):
        parse_warehouse("ducklake:sqlite:")


def test_a_mistyped_catalog_kind_is_refused_not_taken_for_a_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ducklake:postgresql:…` made a local lake, a DuckDB catalog file named `postgresql:dbname=
    news host=localhost` in the working folder, and reported success: each worker of the
    production layout would have written a private lake (QA). A kind's case does not matter."""
    monkeypatch.chdir(tmp_path)
    for url in ("ducklake:postgresql:dbname=news host=localhost", "ducklake:mysql:foo"):
        kind = url.split(":")[1]
        with pytest.raises(WarehouseError) as refused, writer(url):
            pass
        assert str(refused.value) == (
            f"warehouse {url}: unknown catalog kind {kind!r}; use ducklake:sqlite:FILE, "
            "ducklake:postgres:CONNINFO or ducklake:FILE (a file whose name holds a colon: "
            "ducklake:./NAME)"
        )
    assert list(tmp_path.iterdir()) == []
    assert parse_warehouse(f"ducklake:SQLite:{tmp_path}/c.sqlite").catalog_kind == "sqlite"
    assert parse_warehouse("ducklake:./a:b.ducklake").catalog == f"{tmp_path}/a:b.ducklake"


def test_a_catalog_file_of_the_other_kind_says_which_url_opens_it(tmp_path: Path) -> None:
    """A SQLite catalog as ducklake:FILE failed with DuckDB's advice to `INSTALL sqlite`, a
    download newsflow never makes; a DuckDB file as ducklake:sqlite:FILE with "file is not a
    database" (QA)."""
    lite = tmp_path / "lake" / "catalog.sqlite"
    with writer(f"ducklake:sqlite:{lite}"):
        pass
    says = f"{lite} is a SQLite file; pass --db ducklake:sqlite:{lite}"
    _refused_by_writer_and_reader(f"ducklake:{lite}", says)
    plain = tmp_path / "news.duckdb"
    with writer(str(plain)):
        pass
    says = f"{plain} is a DuckDB file, not a SQLite catalog; pass --db ducklake:{plain} for a "
    _refused_by_writer_and_reader(f"ducklake:sqlite:{plain}", says)


def test_reader_of_a_lake_not_made_yet_says_how_to_make_one(tmp_path: Path) -> None:
    with (
        pytest.raises(WarehouseError, match="run `newsflow ingest` first"),
        reader(_lake(tmp_path)),
    ):
        pass


def test_a_plain_warehouse_named_as_a_lake_catalog_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    """ducklake:FILE on a newsflow DuckDB file would write DuckLake's tables into it."""
    plain = tmp_path / "news.duckdb"
    with writer(str(plain)):
        pass
    before = plain.read_bytes()
    says = f"{plain} is a newsflow DuckDB warehouse, not a DuckLake catalog; pass --db {plain} "
    _refused_by_writer_and_reader(f"ducklake:{plain}", says)
    assert plain.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.duckdb"]
    with writer(f"ducklake:{tmp_path / 'lake.ducklake'}"):
        pass  # a lake's own DuckDB catalog file opens again
    with reader(f"ducklake:{tmp_path / 'lake.ducklake'}") as conn:
        assert is_ducklake(conn)


def test_a_lake_catalog_named_as_a_plain_warehouse_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    """A plain --db on a lake's DuckDB catalog file would write newsflow's tables into it."""
    catalog = tmp_path / "lake.ducklake"
    with writer(f"ducklake:{catalog}"):
        pass
    before = catalog.read_bytes()
    says = f"{catalog} is a DuckLake catalog, not a newsflow DuckDB warehouse; "
    _refused_by_writer_and_reader(str(catalog), says)
    assert catalog.read_bytes() == before


def test_duckdb_lacks_keys_sequences_and_indexes_the_lake_schema_leaves_them_out(
    tmp_path: Path,
) -> None:
    url = _lake(tmp_path)
    with writer(url) as conn:
        assert is_ducklake(conn)
        for statement in (
            "CREATE TABLE k (id VARCHAR PRIMARY KEY)",
            "CREATE SEQUENCE s",
            "CREATE INDEX i ON articles (url_key)",
        ):
            with pytest.raises(Exception, match="not supported|does not support"):
                conn.execute(statement)
        versions = conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    with writer(url) as conn:  # opens again without re-applying anything
        assert conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == versions
        assert conn.execute("SELECT writes FROM write_lock").fetchall() == [(0,)]


def test_a_lake_whose_data_folder_is_missing_is_refused_in_one_line_and_left_alone(
    tmp_path: Path, batches: list[Batch]
) -> None:
    """The catalog lists Parquet files in a folder that is gone (moved, deleted, a volume not
    mounted): every command says so in one line; a load neither makes the folder again nor
    writes a snapshot whose earlier files are elsewhere."""
    from typer.testing import CliRunner

    from flows.cli import app

    url = _lake(tmp_path)
    _load(url, batches[:2], "first")
    data = tmp_path / "lake" / "catalog.sqlite.files"
    assert list(data.rglob("*.parquet"))  # not all inlined into the catalog
    data.rename(tmp_path / "elsewhere")
    snapshots = _snapshots(tmp_path / "lake" / "catalog.sqlite")
    says = f"warehouse {url}: its data folder {data}/ is missing"
    _refused_by_writer_and_reader(url, says)
    with pytest.raises(WarehouseError, match=re.escape(says)):
        _load(url, batches[2:3], "second")
    for command in (["search", "Report"], ["check"], ["export", "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(app, [*command, "--db", url])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"error: {says}") and result.stderr.count("\n") == 1
    assert not data.exists() and not (tmp_path / "out").exists()
    assert _snapshots(tmp_path / "lake" / "catalog.sqlite") == snapshots  # nothing committed

    (tmp_path / "elsewhere").rename(data)  # put back, the lake is whole again
    assert _counts(url)["articles"] == 2 * BATCH
    assert check_warehouse(url) == []


def test_a_lake_whose_data_folder_was_moved_opens_where_data_names_it(
    tmp_path: Path, batches: list[Batch]
) -> None:
    """DuckLake keeps a lake's data path in its catalog and refuses another unless told to
    override it: ?data= naming the existing folder the files were moved to opens the lake
    there (reads, loads, `newsflow check`), while the catalog keeps its path; a ?data= that is
    not there, or a folder without the lake's files, is refused in one line naming the fix."""
    from typer.testing import CliRunner

    from flows.cli import app

    url = _lake(tmp_path)
    _load(url, batches[:2], "first")
    data, moved = tmp_path / "lake" / "catalog.sqlite.files", tmp_path / "moved"
    data.rename(moved)
    moved_url = f"{url}?data={moved}"
    assert _counts(moved_url)["articles"] == 2 * BATCH
    _load(moved_url, batches[2:3], "second")
    assert _counts(moved_url)["articles"] == 3 * BATCH
    result = CliRunner().invoke(app, ["check", "--db", moved_url])
    assert result.exit_code == 0, result.output
    assert not data.exists() and len(list(moved.rglob("*.parquet"))) > 2

    says = f"warehouse {url}: its data folder {data}/ is missing"
    with pytest.raises(WarehouseError, match=f"^{re.escape(says)}.*{re.escape('?data=')}"):
        _counts(url)  # the catalog still names the old folder
    gone = tmp_path / "gone"
    says = (
        f"warehouse {url}?data={gone}: its catalog keeps its Parquet files in {data}/, "
        f"not {gone}/ (which does not exist); "
    )
    _refused_by_writer_and_reader(f"{url}?data={gone}", says)
    assert not gone.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    snapshots = _snapshots(tmp_path / "lake" / "catalog.sqlite")
    says = f"warehouse {url}?data={empty}: {empty}/ lacks the lake's Parquet files"
    _refused_by_writer_and_reader(f"{url}?data={empty}", says)
    assert list(empty.iterdir()) == []
    assert _snapshots(tmp_path / "lake" / "catalog.sqlite") == snapshots  # nothing committed


def test_a_lake_opened_with_another_data_path_names_the_one_its_catalog_keeps(
    tmp_path: Path, batches: list[Batch]
) -> None:
    """A lake made with ?data= and opened without it (the default folder beside the catalog),
    or with a bucket in place of its folder, is refused in one line naming the catalog's path
    (however long the paths in DuckDB's refusal are)."""
    url, parquet = _lake(tmp_path), tmp_path / ("parquet-" * 25)
    _load(f"{url}?data={parquet}", batches[:1], "first")
    default = tmp_path / "lake" / "catalog.sqlite.files"
    for given, why in ((url, f"{default}/"), (f"{url}?data=s3://news/lake", "s3://news/lake/")):
        says = f"warehouse {given}: its catalog keeps its Parquet files in {parquet}/, not {why}"
        with pytest.raises(WarehouseError, match=f"^{re.escape(says)}") as refused:
            _counts(given)
        assert f"pass ?data={parquet}/" in str(refused.value)
    assert "read only from a local folder" in str(refused.value)
    assert _counts(f"{url}?data={parquet}")["articles"] == BATCH


# --- the ingest flow into a lake ----------------------------------------------------------------


def test_ingest_flow_into_a_lake_then_query_it_back(prefect_harness, tmp_path: Path) -> None:
    from flows.ingest import ingest

    url, pages = _lake(tmp_path), tmp_path / "pages"
    pages.mkdir()
    for name in SAMPLE_PAGES:  # a story, its syndicated copy, another story
        shutil.copy(SAMPLES / name, pages / name)
    first = ingest(paths=[str(pages)], db=url)
    assert first.new == 3 and first.duplicates == {"near": 1}
    assert (tmp_path / "lake" / "catalog.sqlite.files").is_dir()
    (articles, stories), *_ = _rows(
        url, "SELECT count(*), count(DISTINCT cluster_id) FROM articles"
    )
    assert articles == first.new and stories == first.new - sum(first.duplicates.values())
    assert _rows(url, "SELECT count(*) - count(DISTINCT id) FROM articles") == [(0,)]
    assert check_warehouse(url) == []

    # every load indexed its articles for search: the story and its copy are one line
    hits = search_articles(url, "Herat Kandahar")
    assert hits[0]["title"].startswith("Taliban take Herat and Kandahar") and hits[0]["copies"] == 2

    second = ingest(paths=[str(pages)], db=url)
    assert (second.new, second.updated) == (0, 0)
    assert _rows(url, "SELECT count(*) FROM articles") == [(articles,)]
    assert _rows(url, "SELECT count(*) FROM search_docs") == [(articles,)]
    assert check_warehouse(url) == []


def test_reloading_a_batch_into_a_lake_adds_only_its_fetch_rows(tmp_path: Path) -> None:
    """A lake's tables have no keys to refuse a second copy: each write's own check keeps a
    source, a page, a feed entry, a rejected item and an article once when a batch comes again."""
    from tasks.records import FeedEntry, Source

    url = _lake(tmp_path)
    text = "Taliban fighters captured Zaranj, the capital of Nimroz province, on Friday. " * 8
    kept = cleaned_document("https://a.example/zaranj", text, source_name="wire", title="Zaranj")
    walled = cleaned_document("https://a.example/wall", "", source_name="wire", title="Wall")
    walled.rejected_reason = "no_text"
    entry = FeedEntry("https://a.example/rss", "urn:zaranj", "wire", kept.url, "Zaranj", None,
                      None, None)  # fmt: skip
    tables = ("sources", "pages", "feed_entries", "rejected", "articles", "article_versions",
              "minhash_signatures", "fetches")  # fmt: skip
    counts = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    loads = []
    for _ in range(2):
        loads.append(
            write_batch(
                url,
                sources=[Source("wire", "feed", "https://a.example/rss")],
                fetches=[kept.fetch, walled.fetch],
                documents=[kept, walled],
                prints=fingerprints([kept]),
                feed_entries=[entry],
            )
        )
        assert dict(zip(tables, _rows(url, counts)[0], strict=True)) == {
            **dict.fromkeys(tables, 1),
            "pages": 2,
            "fetches": 2 * len(loads),
        }
    assert [(c.new, c.unchanged, c.feed_entries) for c in loads] == [(1, 0, 1), (0, 1, 0)]
    assert check_warehouse(url) == []


@pytest.fixture
def object_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, object]]:
    """An S3 API on 127.0.0.1 (moto's server) with an empty bucket "news", and the DuckDB
    persistent secret that reaches it, in a home folder of the test's own: every DuckDB
    connection reads the secrets under ~/.duckdb/stored_secrets, as a worker's would."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    import duckdb

    from warehouse.db import load_extension

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    keys = {"aws_access_key_id": "newsflow-test", "aws_secret_access_key": "not-a-secret"}
    bucket = boto3.client(
        "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1", **keys
    )
    bucket.create_bucket(Bucket="news")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    conn = duckdb.connect(config={"allow_unsigned_extensions": True})
    load_extension(conn, "httpfs")
    conn.execute(
        "CREATE PERSISTENT SECRET news_store (TYPE s3, KEY_ID ?, SECRET ?, REGION 'us-east-1', "
        "ENDPOINT ?, URL_STYLE 'path', USE_SSL false)",
        [keys["aws_access_key_id"], keys["aws_secret_access_key"], f"{host}:{port}"],
    )
    conn.close()
    yield "s3://news/lake/", bucket
    server.stop()


def test_ingest_flow_into_a_lake_on_object_storage(
    prefect_harness, object_store: tuple[str, object], tmp_path: Path
) -> None:
    """The production layout's data half: Parquet files written to and read back from an S3
    API (here moto's, on loopback), through the httpfs extension of its PyPI package."""
    from flows.ingest import ingest

    data, bucket = object_store
    url = f"{_lake(tmp_path)}?data={data}"
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in SAMPLE_PAGES:
        shutil.copy(SAMPLES / name, pages / name)
    first = ingest(paths=[str(pages)], db=url)
    assert first.new == 3 and first.duplicates == {"near": 1}
    keys = [item["Key"] for item in bucket.list_objects_v2(Bucket="news")["Contents"]]
    tables = {key.split("/")[2] for key in keys if key.endswith(".parquet")}
    assert {"minhash_bands", "search_postings"} <= tables  # three articles' rows are inlined
    assert not (tmp_path / "lake" / "catalog.sqlite.files").exists()  # nothing on local disk
    assert _rows(url, "SELECT count(*), count(DISTINCT cluster_id) FROM articles") == [(3, 2)]
    assert check_warehouse(url) == []

    second = ingest(paths=[str(pages)], db=url)
    assert (second.new, second.updated) == (0, 0)
    assert _rows(url, "SELECT count(*) FROM articles") == [(3,)]


def test_a_postgres_lake_on_object_storage_opens_without_data_in_its_url(
    object_store: tuple[str, object], postgres_lake: str, batches: list[Batch]
) -> None:
    """A PostgreSQL catalog remembers its data path, so its URL may leave ?data= out: a lake
    whose Parquet files are on object storage, opened so, still loads httpfs to reach them."""
    data, bucket = object_store
    catalog = postgres_lake.partition("?data=")[0]
    _load(f"{catalog}?data={data}", batches[:1], "first")  # made with its data path
    keys = [item["Key"] for item in bucket.list_objects_v2(Bucket="news")["Contents"]]
    assert any(key.endswith(".parquet") for key in keys)
    assert _counts(catalog)["articles"] == BATCH
    _load(catalog, batches[1:2], "second")
    assert _counts(catalog)["articles"] == 2 * BATCH
    assert check_warehouse(catalog) == []


# --- concurrent commits -------------------------------------------------------------------------

_COMMIT_IN_CHILD = textwrap.dedent(
    """
    import sys
    from warehouse.db import write_transaction, writer
    with writer(sys.argv[1]) as conn:
        write_transaction(conn, lambda: conn.execute(
            "INSERT INTO sources VALUES ('wire', 'urls', 'child', NULL, now(), now())"))
    """
)


def _commit_in_another_process(url: str) -> None:
    subprocess.run(
        [sys.executable, "-c", _COMMIT_IN_CHILD, url], cwd=ROOT, check=True, timeout=CHILD_WAIT
    )


def _insert_source_unless_present(url: str, *, claim: bool) -> list[int]:
    """Check 'wire' is new, let another process commit it meanwhile, then insert it: what each
    try of the transaction saw."""
    seen: list[int] = []
    with writer(url) as conn:

        def work() -> None:
            present = conn.execute("SELECT count(*) FROM sources WHERE name = 'wire'").fetchone()
            seen.append(present[0])
            if len(seen) == 1:
                _commit_in_another_process(url)
            if not present[0]:
                conn.execute(
                    "INSERT INTO sources VALUES ('wire', 'urls', 'me', NULL, now(), now())"
                )

        write_transaction(conn, work, claim=claim)
    return seen


@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_a_write_that_loses_a_concurrent_commit_is_rerun_on_the_new_snapshot(
    request: pytest.FixtureRequest, tmp_path: Path, catalog: str
) -> None:
    url = _lake(tmp_path) if catalog == "sqlite" else request.getfixturevalue("postgres_lake")
    with writer(url):
        pass
    assert _insert_source_unless_present(url, claim=True) == [0, 1]  # the rerun saw the child's
    assert _rows(url, "SELECT location FROM sources WHERE name = 'wire'") == [("child",)]


def test_without_the_write_lock_a_postgres_lake_takes_both_appends(postgres_lake: str) -> None:
    """Why every write claims write_lock: DuckLake itself merges two concurrent appends."""
    with writer(postgres_lake):
        pass
    assert _insert_source_unless_present(postgres_lake, claim=False) == [0]
    assert _rows(postgres_lake, "SELECT count(*) FROM sources WHERE name = 'wire'") == [(2,)]


_HOLD_LOCKED = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def test_a_write_whose_lake_catalog_stays_locked_ends_in_one_line_naming_the_lake(
    tmp_path: Path,
) -> None:
    """Another process holds a write lock on the SQLite catalog (a sqlite3 shell, a backup): the
    write gives up in one line that names the lake and the lock, not "a concurrent writer won"
    with no lake named; it is rolled back, and the same write succeeds once the lock is gone."""
    url = _lake(tmp_path)
    with writer(url):
        pass
    catalog = tmp_path / "lake" / "catalog.sqlite"
    with subprocess.Popen(  # another process: POSIX locks do not hold against one's own
        [sys.executable, "-c", _HOLD_LOCKED, str(catalog)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout.readline() == "locked\n"
        with writer(url) as conn, pytest.raises(WarehouseLocked) as raised:
            write_transaction(conn, lambda: None, attempts=2)
        holder.communicate("", timeout=CHILD_WAIT)  # releases the lock as it ends
    message = str(raised.value)
    assert message.startswith(f"warehouse ducklake:sqlite:{catalog}: its catalog stayed locked ")
    assert "database is locked" in message and "\n" not in message
    assert _rows(url, "SELECT writes FROM write_lock") == [(0,)]
    with writer(url) as conn:
        write_transaction(conn, lambda: None, attempts=2)
    assert _rows(url, "SELECT writes FROM write_lock") == [(1,)]


@pytest.fixture(scope="module")
def single_writer_counts(batches: list[Batch], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What one writer loading every batch once makes of them."""
    url = _lake(tmp_path_factory.mktemp("single"))
    _load(url, batches, "single")
    counts = _counts(url)
    assert counts["articles"] == ARTICLES and counts["exact"] == ARTICLES - EXACT_FROM
    assert counts["near"] == EXACT_FROM - NEAR_FROM
    return counts


@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_two_writer_processes_load_overlapping_batches_into_one_lake(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    batches: list[Batch],
    single_writer_counts: dict[str, int],
    catalog: str,
) -> None:
    url = _lake(tmp_path) if catalog == "sqlite" else request.getfixturevalue("postgres_lake")
    expected = single_writer_counts

    with writer(url):
        pass  # migrated once, so the race is between loads
    indexes = [tmp_path / f"machine-{n}.lsh.sqlite" for n in range(2)]
    reruns = _two_writers_at_once(url, batches, "first", indexes)
    counts = _counts(url)
    print(f"{catalog}: two writers reran {reruns} loads; counts {counts}")
    assert counts == expected  # every article once, filed as a single writer files it
    assert check_warehouse(url) == []
    runs = dict(_rows(url, "SELECT run_id, count(*) FROM fetches GROUP BY 1"))
    loads = [len(half) for half in _halves(batches)]
    assert runs == {"first-0": loads[0] * BATCH, "first-1": loads[1] * BATCH}
    assert _rows(url, "SELECT count(*) - count(DISTINCT fetch_id) FROM fetches") == [(0,)]
    assert _rows(url, "SELECT writes FROM write_lock") == [(sum(loads),)]  # one claim per load

    _two_writers_at_once(url, batches, "again", indexes)
    assert _counts(url) == expected  # re-running changes no counts
    assert check_warehouse(url) == []
    for index in indexes:  # each machine's index, caught up, is true to the lake
        assert _band_index_after_catching_up(url, index) == _as_indexed(url)


def _band_index_after_catching_up(url: str, path: Path) -> list[tuple]:
    """What a machine's band index holds once it has read the lake's last commits, which it does
    from the lake's changes, not by rebuilding."""
    rebuilds = _Messages("rebuilding")
    logging.getLogger("warehouse.band_index").addHandler(rebuilds)
    with writer(url) as conn, closing(band_index.BandIndex(path, lake=True)) as index:
        write_transaction(conn, lambda: index.settle(conn))
    logging.getLogger("warehouse.band_index").removeHandler(rebuilds)
    assert rebuilds.messages == []
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM lsh_docs WHERE pending = 1").fetchone() == (0,)
        return db.execute(
            "SELECT article_id, cluster_id, signature FROM lsh_docs ORDER BY 1"
        ).fetchall()


# --- a local PostgreSQL server for the PostgreSQL-catalog tests ---------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[tuple[list[str], str, int]]:
    """initdb + pg_ctl start on a Unix socket in a temporary folder; stopped after the module."""
    tools = {name: shutil.which(name) for name in ("initdb", "pg_ctl", "createdb")}
    if not all(tools.values()):
        pytest.skip(f"PostgreSQL tools not on PATH ({tools}): the PostgreSQL-catalog tests skip")
    run_as: list[str] = []
    folder = tempfile.mkdtemp(prefix="newsflow-pg-")
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port, data = _free_port(), f"{folder}/data"
    quiet = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*run_as, tools["initdb"], "-D", data, "-U", "postgres", "--auth=trust"], **quiet
    )
    options = f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off"
    start = [*run_as, tools["pg_ctl"], "-D", data, "-o", options, "-l", f"{folder}/log", "-w"]
    subprocess.run([*start, "-t", "60", "start"], **quiet)
    try:
        yield [*run_as, tools["createdb"]], folder, port
    finally:
        subprocess.run([*run_as, tools["pg_ctl"], "-D", data, "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_lake(postgres_server: tuple[list[str], str, int], tmp_path: Path) -> str:
    """A fresh PostgreSQL database as the catalog, Parquet in this test's folder."""
    createdb, folder, port = postgres_server
    name = f"lake_{os.getpid()}_{random.randrange(10**9)}"
    subprocess.run(
        [*createdb, "-h", folder, "-p", str(port), "-U", "postgres", name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    conninfo = f"dbname={name} host={folder} port={port} user=postgres"
    return f"ducklake:postgres:{conninfo}?data={tmp_path / 'parquet'}"
