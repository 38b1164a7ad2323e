"""CLI error cases: bad warehouse files, unwritable paths, a full disk, read-only queries, check."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import STOPPING, OutputFormat, app
from tasks.dedupe import fingerprints
from tasks.load import write_batch
from tasks.records import Document
from tests.conftest import (
    ROOT,
    ctrl_c_once,
    ended_within,
    endless_query,
    group_ends_within,
    kill_group,
    one_page_sources_file,
    temporary_apis,
)
from tests.documents import cleaned_document
from warehouse.db import WarehouseError, migrations, reader, writer
from warehouse.integrity import check_warehouse
from warehouse.queries import read_only_query

LATEST = migrations()[-1][0]
NEWSFLOW = ROOT / ".venv" / "bin" / "newsflow"
WORDS = ["Taliban", "fighters", "entered", "the", "capital", "after", "troops", "withdrew"]


def _document(index: int, words: int = 120) -> Document:
    text = " ".join(f"{WORDS[(index + i) % len(WORDS)]}{i % 97}" for i in range(words))
    return cleaned_document(
        f"https://example.org/2021/08/{index}", text, source_name="cli", title=f"Story {index}"
    )


def _load(db: str, count: int = 2) -> None:
    docs = [_document(i) for i in range(count)]
    write_batch(db, fetches=[d.fetch for d in docs], documents=docs, prints=fingerprints(docs))


def _digest(path: str | Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _run_url(err: str) -> str:
    """What a flow command that went well prints on stderr on a Prefect server: the one line
    naming its run's page in the UI. Returns the run's id."""
    from prefect.settings import PREFECT_UI_URL

    page = re.escape(f"{PREFECT_UI_URL.value()}/runs/flow-run/")
    named = re.fullmatch(rf"flow run [a-z-]+: {page}([0-9a-f-]{{36}})\n", err)
    assert named, err
    return named[1]


def _flow_of_run(run_id: str) -> str:
    """The name of the flow a flow run on the session's Prefect API is a run of."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow(client.read_flow_run(run_id).flow_id).name


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def page(tmp_path: Path) -> str:
    path = tmp_path / "page.txt"
    path.write_text("Ghazni falls\n" + " ".join(WORDS * 10) + "\n")
    return str(path)


def _commands(db: str, page: str) -> list[list[str]]:
    """A reader, a query, a search and a writer: each must refuse a bad file the same way."""
    return [
        ["check", "--db", db],
        ["query", "SELECT 1", "--db", db],
        ["search", "Ghazni", "--db", db],
        ["ingest", "--path", page, "--db", db],
        ["reclean", "--db", db],
    ]


# --- newsflow check ----------------------------------------------------------------------------


def test_check_passes_on_a_sound_warehouse(db_path: str) -> None:
    _load(db_path)
    code, out, err = _invoke("check", "--db", db_path)
    assert (code, err) == (0, "")
    assert out == (
        f"warehouse {db_path} is consistent: 2 articles, 2 stories, 0 duplicates, 0 rejected, "
        "0 feed_entries, 2 fetches\n"
    )


def test_check_names_each_broken_link_and_exits_1(db_path: str) -> None:
    _load(db_path, 3)
    with writer(db_path) as conn:
        conn.execute("DELETE FROM fetches WHERE fetch_id = (SELECT min(fetch_id) FROM fetches)")
        conn.execute(
            "UPDATE articles SET duplicate_of = 'feedfacefeedface', duplicate_kind = 'exact' "
            "WHERE id = (SELECT max(id) FROM articles)"
        )
        conn.execute("INSERT INTO event_extractions VALUES ('0000ghost0000000', 'h', 1, 'r', 1, 0, "
                     "0, now())")  # fmt: skip
        conn.execute("DELETE FROM article_versions WHERE version = 1 AND article_id = "
                     "(SELECT min(id) FROM articles)")  # fmt: skip
        conn.execute("INSERT INTO minhash_signatures VALUES ('0000orphan000000', [1, 2, 3])")
        [(unindexed,)] = conn.execute(
            "DELETE FROM search_docs WHERE article_id = (SELECT max(id) FROM articles) "
            "RETURNING article_id"
        ).fetchall()
    code, out, err = _invoke("check", "--db", db_path)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [
        "articles_without_fetch",
        "dangling_duplicates",
        "orphan_rows",
        "orphan_events",
        "version_counts",
        "search_index",
    ]
    assert "feedfacefeedface" in lines[1] and "minhash_signatures 0000orphan000000" in lines[2]
    assert "0000ghost0000000" in lines[3] and f"article {unindexed} version 1" in lines[5]
    assert lines[-1] == f"error: warehouse {db_path} failed 6 integrity checks"


def test_check_finds_a_story_rooted_outside_itself(db_path: str) -> None:
    """Two pages that swapped texts made each other's stories, and check passed (QA)."""
    _load(db_path, 2)
    with writer(db_path) as conn:
        [(first,), (second,)] = conn.execute("SELECT id FROM articles ORDER BY id").fetchall()
        conn.execute(
            "UPDATE articles SET cluster_id = CASE id WHEN $1 THEN $2 ELSE $1 END, "
            "duplicate_of = CASE id WHEN $1 THEN $2 ELSE $1 END, duplicate_kind = 'exact'",
            [first, second],
        )
    code, out, err = _invoke("check", "--db", db_path)
    assert (code, out) == (1, "")
    assert f"article {first} cluster_id {second}, an article of story {first}" in err


def test_check_finds_a_search_posting_lost(db_path: str) -> None:
    """Its article was no longer found by that word, and check passed: the index's rows were
    all there, its counts were not."""
    _load(db_path)
    with writer(db_path) as conn:
        [(article, tf)] = conn.execute(
            "DELETE FROM search_postings WHERE article_id = (SELECT min(id) FROM articles) "
            "AND term = (SELECT min(term) FROM search_postings WHERE article_id = "
            "(SELECT min(id) FROM articles)) RETURNING article_id, tf"
        ).fetchall()
        [(terms,)] = conn.execute(
            "SELECT terms FROM search_docs WHERE article_id = ?", [article]
        ).fetchall()
    code, out, err = _invoke("check", "--db", db_path)
    assert (code, out) == (1, "")
    assert f"search_docs {article} version 1 counts {terms} terms, its postings {terms - tf}" in err
    assert err.splitlines()[-1] == f"error: warehouse {db_path} failed 1 integrity check"


def test_user_text_with_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    """A path or a query is the user's text, not rich markup: `[bold]` in a folder name or in
    the words searched for is printed, not eaten."""
    folder = tmp_path / "runs[bold]"
    folder.mkdir()
    db = str(folder / "news.duckdb")
    _load(db)
    assert _invoke("check", "--db", db) == (
        0,
        f"warehouse {db} is consistent: 2 articles, 2 stories, 0 duplicates, 0 rejected, "
        "0 feed_entries, 2 fetches\n",
        "",
    )
    with writer(db) as conn:
        conn.execute("DELETE FROM fetches WHERE fetch_id = (SELECT min(fetch_id) FROM fetches)")
    code, out, err = _invoke("check", "--db", db)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == f"error: warehouse {db} failed 1 integrity check"
    assert _invoke("search", "[bold]zzzq", "--db", db) == (0, "no stories match '[bold]zzzq'\n", "")


def test_every_help_text_is_shown_as_written() -> None:
    """`ingest --help` read "Sources TOML file: its , and its sources": rich took `[settings]`
    for a style and dropped it. Each command's summary and each option's help is in the
    command's --help as written (a bracket escaped for rich, `\\[`, shown as `[`)."""
    import typer.main

    def flat(text: str) -> str:
        return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())

    commands = typer.main.get_command(app).commands
    assert len(commands) == 10
    for name, command in commands.items():
        output = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400"}).output
        shown = flat(output)
        texts = [command.help.split("\n\n")[0], *(p.help for p in command.params if p.help)]
        for text in texts:
            assert flat(text.replace("\\[", "[")) in shown, (name, text)
        # a paragraph of the docstring is one line on a wide terminal: its source's line
        # breaks showed, mid-sentence (`code` is shown as code, without its backticks)
        lines = [flat(line) for line in output.splitlines()]
        for paragraph in command.help.split("\n\n")[1:]:
            assert flat(paragraph.replace("`", "")) in lines, (name, paragraph)


def test_web_text_with_brackets_is_printed_as_it_is(db_path: str) -> None:
    """A title, a URL or a sentence from the web is data, not rich markup: in a table, `[/x]`
    made rich raise (a traceback, exit 1), `[fe80::1%eth0]` and `[updated]` vanished and
    `:smile:` became an emoji."""
    title = "Kunduz [updated] falls [/x] :smile:"
    url = "http://[fe80::1%eth0]/kunduz"
    doc = cleaned_document(url, " ".join(WORDS * 20), source_name="cli", title=title)
    write_batch(db_path, fetches=[doc.fetch], documents=[doc], prints=fingerprints([doc]))
    code, out, err = _invoke(
        "query", 'SELECT url, title AS "[title]" FROM articles', "--db", db_path
    )
    assert (code, err) == (0, "")
    assert re.search(r"┃ url +┃ \[title\] +┃", out), out
    assert re.search(rf"│ {re.escape(url)} +│ {re.escape(title)} +│", out), out
    code, out, err = _invoke("search", "Taliban", "--db", db_path)
    assert (code, err) == (0, "") and title in out, out


def test_search_and_captures_in_csv_give_the_header_when_no_row_matches(db_path: str) -> None:
    """A script reading `-f csv` gets the columns either way (an empty output was no CSV)."""
    _load(db_path)
    code, out, err = _invoke("search", "zzzq", "--db", db_path, "-f", "csv")
    assert (code, out, err) == (0, "score,published_at,site_name,title,url,copies,cluster_id\n", "")
    code, out, err = _invoke("search", "zzzq", "--db", db_path, "-f", "json")
    assert (code, out, err) == (0, "[]\n", "")
    code, out, err = _invoke("captures", "--db", db_path, "-f", "csv")
    # the why on stderr: the output stays the data (QA: a script was told nothing)
    assert (code, err) == (0, "the daily table is empty: `newsflow summarize` computes it\n")
    assert out == (  # the data's columns: a script had to parse "Kunduz (again, 1)"
        "day,new_capitals,new_capital_names,new_capital_sources,cumulative_capitals,claimed_only,"
        "retaken_capital_names,recaptured_capital_names,recaptured_capital_sources,held_capitals,"
        "max_reported_count,national_capital,national_capital_status,articles,stories\n"
    )


def test_a_search_with_no_word_to_look_for_says_so(db_path: str) -> None:
    """An unset shell variable or only stop words printed "no stories match": as if the
    warehouse held nothing on it, whatever it holds."""
    _load(db_path)
    for words, format in itertools.product(["", "  ", "the of a", "!!! ?", "I"], OutputFormat):
        code, out, err = _invoke("search", words, "--db", db_path, "-f", format)
        assert (code, out) == (1, ""), (words, format)
        assert err == (
            f"error: nothing to search for in {words!r}: the index leaves out one-letter words "
            "and English stop words (the, of, in, …); give a word the stories would hold\n"
        )
    code, out, err = _invoke("search", "the Taliban", "--db", db_path)  # a stop word among others
    assert (code, err) == (0, "") and "Taliban" in out


def test_check_of_a_missing_warehouse(tmp_path: Path) -> None:
    db = str(tmp_path / "none.duckdb")
    assert _invoke("check", "--db", db) == (
        1,
        "",
        f"error: warehouse {db} does not exist yet; run `newsflow ingest` first\n",
    )
    assert not Path(db).exists()


# --- newsflow export ---------------------------------------------------------------------------


def test_export_to_a_file_name_taken_by_a_folder_fails_in_one_line(
    db_path: str, tmp_path: Path
) -> None:
    _load(db_path)
    out = tmp_path / "out"
    (out / "daily_captures.csv").mkdir(parents=True)
    target = out / "daily_captures.csv"
    assert _invoke("export", "--out", str(out), "--db", db_path) == (
        1,
        "",
        f'error: cannot write {target} (IO Error: Cannot open file "{target}": Is a directory); '
        "pass another --out\n",
    )


def test_export_to_a_folder_that_cannot_be_made_fails_in_one_line(
    db_path: str, tmp_path: Path
) -> None:
    _load(db_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    out = blocker / "out"
    assert _invoke("export", "--out", str(out), "--db", db_path) == (
        1,
        "",
        f"error: cannot create the folder {out}: Not a directory ({out}); pass another --out\n",
    )


def test_export_of_a_missing_warehouse_creates_no_folder(tmp_path: Path) -> None:
    db, out = tmp_path / "none.duckdb", tmp_path / "newdir"
    assert _invoke("export", "--out", str(out), "--db", str(db)) == (
        1,
        "",
        f"error: warehouse {db} does not exist yet; run `newsflow ingest` first\n",
    )
    assert not out.exists() and not db.exists()


def test_export_says_how_many_rows_each_file_holds(db_path: str, tmp_path: Path) -> None:
    """Exported after an ingest and before a summary, the three files held a header each, and
    nothing said why."""
    from warehouse.summaries import recompute_daily_summaries

    day = datetime(2021, 8, 6, 9, tzinfo=UTC)
    doc = cleaned_document(
        "https://example.org/zaranj",
        " ".join(WORDS * 20),
        source_name="cli",
        title="Zaranj",
        site_name="Pajhwok",
        published_at=day,
    )
    write_batch(db_path, fetches=[doc.fetch], documents=[doc], prints=fingerprints([doc]))
    out = tmp_path / "out"
    files = [
        out / f"{t}.csv"
        for t in ("daily_captures", "daily_capture_sources", "daily_article_counts")
    ]
    assert _invoke("export", "--out", str(out), "--db", db_path) == (
        0,
        "".join(f"wrote {f} (0 rows)\n" for f in files),
        "note: the summary tables are empty; `newsflow summarize` computes them from the articles "
        "ingested (`newsflow run` does both)\n",
    )
    recompute_daily_summaries(db_path, None, None)
    code, stdout, err = _invoke("export", "--out", str(out), "--db", db_path)
    assert (code, err) == (0, "")
    assert stdout.splitlines() == [
        f"wrote {files[0]} (1 row)",
        f"wrote {files[1]} (0 rows)",
        f"wrote {files[2]} (1 row)",
    ]
    with files[2].open(newline="") as fh:
        assert [(r["day"], r["site"]) for r in csv.DictReader(fh)] == [("2021-08-06", "Pajhwok")]


# --- files newsflow must not touch -------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"\x89PNG\r\n\x1a\n", 'IO Error: The file "{db}" exists, but it is not a valid DuckDB '
         "database file!"),
        # DuckDB would download its sqlite extension and open the file: refused before that
        (b"SQLite format 3\x00", None),
    ],
)  # fmt: skip
def test_a_file_that_is_not_duckdb_is_refused_by_every_command_and_left_alone(
    tmp_path: Path, page: str, head: bytes, says: str | None
) -> None:
    db = tmp_path / "news.duckdb"
    db.write_bytes(head + os.urandom(4000))
    before = _digest(db)
    if says is None:
        expected = f"error: {db} is a SQLite database, not a DuckDB warehouse; pass another --db\n"
    else:
        reason = says.format(db=db)
        expected = f"error: {db} is not a DuckDB warehouse ({reason}); pass another --db\n"
    for command in _commands(str(db), page):
        assert _invoke(*command) == (1, "", expected), command
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.duckdb", "page.txt"]


def test_a_warehouse_from_a_newer_newsflow_is_refused_and_left_alone(
    db_path: str, page: str
) -> None:
    _load(db_path)
    with writer(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', now())")
    before = _digest(db_path)
    expected = (
        f"error: warehouse {db_path} has schema version 99, newer than this newsflow knows "
        f"({LATEST}); upgrade newsflow\n"
    )
    for command in _commands(db_path, page):
        assert _invoke(*command) == (1, "", expected), command
    assert _digest(db_path) == before


@pytest.mark.parametrize("db", [":memory:", ":memory:scratch", "", " "])
def test_a_warehouse_that_is_not_a_file_is_refused(
    db: str, page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB opens `:memory:` (and an empty path) as a new in-memory database on each
    connection: `ingest --db :memory:` reported its articles new and kept none, then failed with
    a traceback printing them; `--db ""` wrote warehouse/news.duckdb under the working folder."""
    monkeypatch.chdir(tmp_path)
    expected = (
        f"error: warehouse {db!r} is not a file: pass a path such as warehouse/news.duckdb or a "
        "ducklake: URL\n"
    )
    for command in [*_commands(db, page), ["summarize", "--db", db]]:
        assert _invoke(*command) == (1, "", expected), command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.txt"]


def test_a_warehouse_path_that_cannot_be_written(tmp_path: Path, page: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    db = f"{blocker}/sub/news.duckdb"
    code, out, err = _invoke("ingest", "--path", page, "--db", db)
    assert (code, out) == (1, "")
    where = f"Not a directory ({blocker}/sub)"
    assert err == f"error: warehouse {db} cannot be created: {where}; check the path\n"


@contextmanager
def _tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted for the block (needs root and mount); skips with the reason otherwise."""
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {done.stderr.strip() or 'no mount'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs: a disk that fills up."""
    with _tmpfs(tmp_path / "disk", "size=16m") as mount_point:
        yield mount_point


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs: a warehouse path that can never be written."""
    with _tmpfs(tmp_path / "ro", "size=1m,ro") as mount_point:
        yield mount_point


def test_a_read_only_file_system(read_only_disk: Path, page: str) -> None:
    db = f"{read_only_disk}/news.duckdb"
    assert _invoke("ingest", "--path", page, "--db", db) == (
        1,
        "",
        f'error: warehouse {db} cannot be written (IO Error: Cannot open file "{db}": '
        "Read-only file system); check the path\n",
    )


def _scrapes(folder: Path, count: int, kilobytes: int) -> Path:
    """Text scrapes with much distinct text, so their load needs room on disk."""
    folder.mkdir()
    for index in range(count):
        words = " ".join(f"w{index}x{i}" for i in range(kilobytes * 100))
        (folder / f"story-{index}.txt").write_text(f"Story {index} headline\n{words}\n")
    return folder


def test_a_full_disk_fails_in_one_line_and_loses_nothing(
    prefect_harness: None, small_disk: Path, tmp_path: Path, page: str
) -> None:
    """The real console script, so what Prefect itself prints is checked too."""
    from prefect.settings import PREFECT_API_URL

    db = f"{small_disk}/news.duckdb"
    _load(db, 2)
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - 150_000))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "300"}
    env.pop("NEWSFLOW_DB", None)
    scrapes = _scrapes(tmp_path / "scrapes", 3, 300)
    done = subprocess.run(
        [str(NEWSFLOW), "ingest", "--path", str(scrapes), "--db", db],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    # Each commit is a checkpoint into the file (warehouse/db.py, _COMMIT_BY_CHECKPOINT), which
    # needs room for new blocks: the run's first, its sources, finds none.
    assert done.stderr.splitlines()[-1] == (
        f"error: warehouse {db}: the disk is full (news.duckdb: No space left on device); the "
        "write was rolled back, free some space and rerun"
    )
    (small_disk / "filler").unlink()
    code, out, _ = _invoke("check", "--db", db)
    assert code == 0 and "is consistent: 2 articles" in out  # what was there is still there
    _load(db, 3)  # and the file takes writes
    code, out, _ = _invoke("check", "--db", db)
    assert code == 0 and "is consistent: 3 articles" in out


def test_a_full_disk_at_the_near_duplicate_index_rolls_the_whole_batch_back(
    small_disk: Path,
) -> None:
    """The index beside the file is written before DuckDB commits: on a full disk it fails
    first, in the same one line, and the batch's rows go with it."""
    db = f"{small_disk}/news.duckdb"
    _load(db, 2)
    with (small_disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:  # to the last byte
            filler.write(b"\0" * 4096)
    docs = [_document(i) for i in range(2, 4)]
    with pytest.raises(WarehouseError) as refused:
        write_batch(db, fetches=[d.fetch for d in docs], documents=docs, prints=fingerprints(docs))
    assert str(refused.value) == (
        f"warehouse {db}: the disk is full (news.duckdb.lsh.sqlite: disk I/O error); "
        "the write was rolled back, free some space and rerun"
    )
    (small_disk / "filler").unlink()
    assert check_warehouse(db) == []
    with reader(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (2,)


# --- newsflow query is read-only ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("INSERT INTO sources VALUES ('x', 'urls', 'y', NULL, now(), now())", "INSERT"),
        ("ATTACH '{dir}/other.duckdb' AS other", "ATTACH"),
        ("COPY articles TO '{dir}/out.csv'", "COPY"),
        ("SELECT 1; DROP TABLE articles", "DROP"),
        ("UPDATE articles SET title = 'x'", "UPDATE"),
        ("CREATE TABLE notes (note VARCHAR)", "CREATE"),
        ("PRAGMA enable_checkpoint_on_shutdown", "PRAGMA"),
        # named as written, not by DuckDB's type (LOAD, CALL, SET, or one DuckDB added)
        ("INSTALL httpfs", "INSTALL"),
        ("/* flush */ CHECKPOINT", "CHECKPOINT"),
        ("USE memory", "USE"),
        ("CREATE TABLE pivoted AS PIVOT articles ON title USING count(*)", "CREATE"),
        ("PIVOT articles ON title USING count(*); CREATE TABLE notes (note VARCHAR)", "CREATE"),
        (
            "EXPLAIN ANALYZE CREATE TABLE pivoted AS PIVOT articles ON title USING count(*)",
            "EXPLAIN (unparsed)",
        ),
    ],
)
def test_query_refuses_statements_that_write(
    db_path: str, tmp_path: Path, statement: str, kind: str
) -> None:
    _load(db_path)
    before = _digest(db_path)
    code, out, err = _invoke("query", statement.format(dir=tmp_path), "--db", db_path)
    assert (code, out) == (1, "")
    assert err == (
        f"error: newsflow query is read-only: {kind} statements are refused (use SELECT; the "
        "flows are the only writers)\n"
    )
    assert _digest(db_path) == before
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_query_refuses_more_than_one_statement(db_path: str) -> None:
    """`newsflow query` takes one statement: of two, only the last one's rows were printed."""
    _load(db_path)
    assert _invoke("query", "SELECT count(*) AS n FROM articles; SELECT 2 AS m", "--db",
                   db_path, "-f", "csv") == (
        1, "", "error: the query holds 2 statements; pass one SELECT at a time\n"
    )  # fmt: skip
    one = "SELECT count(*) AS n FROM articles;"  # a trailing semicolon is still one statement
    assert _invoke("query", one, "--db", db_path, "-f", "csv") == (0, "n\n2\n", "")


def test_query_takes_a_pivot_whose_columns_come_from_the_data(db_path: str) -> None:
    """A PIVOT without IN (…) is one SELECT to its user; DuckDB parses it into a temporary enum
    of the pivoted column's values and the SELECT, which the refusals must tell from a CREATE."""
    _load(db_path)
    before = _digest(db_path)
    pivot = "PIVOT articles ON title USING count(*) GROUP BY source_name"
    assert _invoke("query", pivot, "--db", db_path, "-f", "csv") == (
        0, "source_name,Story 0,Story 1\ncli,1,1\n", ""
    )  # fmt: skip
    assert _invoke("query", f"{pivot}; SELECT 1", "--db", db_path) == (
        1, "", "error: the query holds 2 statements; pass one SELECT at a time\n"
    )  # fmt: skip
    # its EXPLAIN, which DuckDB wraps in a transaction of its own: the plan, not the COMMIT's
    # "Success" (it was refused as an EXPLAIN of more than one statement)
    for explain, plan in (("EXPLAIN", "physical_plan"), ("EXPLAIN ANALYZE", "analyzed_plan")):
        code, out, err = _invoke("query", f"{explain} {pivot}", "--db", db_path, "-f", "csv")
        assert (code, err) == (0, "")
        assert out.startswith(f"explain_key,explain_value\n{plan},"), out
    assert _digest(db_path) == before


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("EXPLAIN ANALYZE COPY articles TO '{target}'", "EXPLAIN COPY"),
        ("/* a note */ EXPLAIN (ANALYZE) COPY articles TO '{target}'", "EXPLAIN COPY"),
        ("EXPLAIN /* hidden */ ANALYZE COPY articles TO '{target}'", "EXPLAIN (unparsed)"),
    ],
)
def test_query_cannot_write_files_through_explain_analyze(
    db_path: str, tmp_path: Path, statement: str, kind: str
) -> None:
    _load(db_path)
    target = tmp_path / "leak.csv"
    code, out, err = _invoke("query", statement.format(target=target), "--db", db_path)
    assert not target.exists()
    assert (code, out) == (1, "")
    assert err.startswith(f"error: newsflow query is read-only: {kind} statements are refused")
    code, out, _ = _invoke(
        "query", "EXPLAIN ANALYZE SELECT count(*) FROM articles", "--db", db_path, "-f", "csv"
    )
    assert code == 0 and out.startswith("explain_key,explain_value\nanalyzed_plan,")
    code, out, _ = _invoke(
        "query", "SELECT count(*) AS n FROM articles", "--db", db_path, "-f", "csv"
    )
    assert (code, out) == (0, "n\n2\n")


def test_query_opens_no_file_to_parse_either(db_path: str, tmp_path: Path) -> None:
    """PRAGMA import_database reads the folder's schema.sql as DuckDB parses it: the parse error
    quoted the file's first word, and told a missing folder from one that exists."""
    _load(db_path)
    (tmp_path / "schema.sql").write_text("hidden_word:x:0:0:secret line\n")
    (tmp_path / "load.sql").write_text("")
    answers = [
        _invoke("query", f"PRAGMA import_database('{folder}')", "--db", db_path)
        for folder in (tmp_path, tmp_path / "missing")
    ]
    for (code, out, err), folder in zip(answers, (tmp_path, tmp_path / "missing"), strict=True):
        assert (code, out) == (1, "")
        assert "hidden_word" not in err and "secret" not in err
        assert err == (
            f'error: cannot parse the query: Permission Error: Cannot access file "{folder}/'
            'schema.sql" - file system operations are disabled by configuration\n'
        )


def test_query_reads_a_lakes_rows_and_writes_nowhere(tmp_path: Path) -> None:
    """A lake's rows are Parquet files in its data path: the query reads them, writes none."""
    lake = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    data = tmp_path / "lake" / "catalog.sqlite.files"
    _load(lake)
    code, out, err = _invoke(
        "query", "SELECT title FROM articles ORDER BY title", "--db", lake, "-f", "csv"
    )
    assert (code, out, err) == (0, "title\nStory 0\nStory 1\n", "")
    # a PIVOT's enum is a temporary type, not a new table of the lake's
    pivot = "PIVOT articles ON title USING count(*) GROUP BY source_name"
    assert _invoke("query", pivot, "--db", lake, "-f", "csv") == (
        0, "source_name,Story 0,Story 1\ncli,1,1\n", ""
    )  # fmt: skip
    for statement, error in [
        (f"EXPLAIN ANALYZE COPY articles TO '{data}/leak.csv'", "newsflow query is read-only"),
        (f"COPY articles TO '{data}/leak.csv'", "newsflow query is read-only"),
        (f"SELECT * FROM read_text('{data}/../catalog.sqlite-wal')", "query failed: Permission"),
    ]:
        code, out, err = _invoke("query", statement, "--db", lake)
        assert (code, out) == (1, "") and err.startswith(f"error: {error}"), statement
    assert not (data / "leak.csv").exists()


def test_query_prints_every_column_by_position_and_a_header_without_rows(db_path: str) -> None:
    _load(db_path)
    both = "SELECT 1 AS x, 2 AS x, 3 AS x_1"
    assert _invoke("query", both, "--db", db_path, "-f", "csv") == (0, "x,x,x_1\n1,2,3\n", "")
    code, out, _ = _invoke("query", both, "--db", db_path, "-f", "json")
    assert (code, json.loads(out)) == (0, [{"x": 1, "x_2": 2, "x_1": 3}])
    code, out, _ = _invoke("query", both, "--db", db_path)
    assert code == 0 and out.splitlines()[1].split() == ["┃", "x", "┃", "x", "┃", "x_1", "┃"]
    pairs = "SELECT a.id, b.id FROM articles a JOIN articles b ON b.id = a.id ORDER BY 1"
    code, out, _ = _invoke("query", pairs, "--db", db_path, "-f", "csv")
    header, *rows = out.splitlines()
    assert (code, header, len(rows)) == (0, "id,id", 2)
    assert all(first == second for first, second in (row.split(",") for row in rows))
    none = "SELECT id, title FROM articles WHERE false"
    assert _invoke("query", none, "--db", db_path, "-f", "csv") == (0, "id,title\n", "")
    assert _invoke("query", none, "--db", db_path, "-f", "json") == (0, "[]\n", "")


def test_query_output_is_valid_json_and_csv_whatever_the_column_types(db_path: str) -> None:
    """NaN was written as the bare word NaN, which jq and JSON.parse refuse; non-Latin titles were
    \\u escapes; a list in a CSV cell was Python's repr (`['Herat', 'Kandahar']`)."""
    _load(db_path)
    typed = (
        "SELECT 'nan'::DOUBLE AS n, 'inf'::DOUBLE AS i, ['Herat', 'Qala-i-Naw'] AS l, "
        "{'city': 'کابل', 'day': DATE '2021-08-15'} AS s, '\\x00k\\x5C'::BLOB AS b, true AS t"
    )
    code, out, err = _invoke("query", typed, "--db", db_path, "-f", "json")
    assert (code, err) == (0, "") and "کابل" in out
    assert json.loads(out, parse_constant=pytest.fail) == [
        {
            "n": None,
            "i": None,
            "l": ["Herat", "Qala-i-Naw"],
            "s": {"city": "کابل", "day": "2021-08-15"},
            "b": "\\x00k\\x5C",
            "t": True,
        }
    ]
    code, out, err = _invoke("query", typed, "--db", db_path, "-f", "csv")
    assert (code, err) == (0, "")
    assert list(csv.reader(io.StringIO(out))) == [
        ["n", "i", "l", "s", "b", "t"],
        ["nan", "inf", '["Herat", "Qala-i-Naw"]', '{"city": "کابل", "day": "2021-08-15"}',
         "\\x00k\\x5C", "true"],  # true as SQL writes it, not Python's True
    ]  # fmt: skip


def test_query_writes_intervals_as_duckdb_does_months_and_all(db_path: str) -> None:
    """Fetched, an INTERVAL was Python's timedelta, which has no months: `INTERVAL 1 MONTH` came
    out as `30 days, 0:00:00`, a year as 360 days."""
    _load(db_path)
    spans = (
        'SELECT INTERVAL 1 MONTH AS "a ""span""", INTERVAL 14 MONTH + INTERVAL 3 DAY AS y, '
        "TIMESTAMP '2021-08-15 10:00' - TIMESTAMP '2021-08-06' AS fall, [INTERVAL 1 YEAR] AS l, "
        "{'took': INTERVAL 2 MONTH} AS s, NULL::INTERVAL AS n, 7 AS y, "
        "'INTERVAL'::ENUM('INTERVAL', 'other') AS e ORDER BY 1"
    )
    code, out, err = _invoke("query", spans, "--db", db_path, "-f", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == [
        {
            'a "span"': "1 month",
            "y": "1 year 2 months 3 days",
            "fall": "9 days 10:00:00",
            "l": ["1 year"],
            "s": {"took": "2 months"},
            "n": None,
            "y_1": 7,
            "e": "INTERVAL",  # an ENUM's value, not a type to write as text
        }
    ]
    days = "SELECT DATE '2021-08-15' - INTERVAL 1 MONTH AS d, count(*) AS n FROM articles"
    assert _invoke("query", days, "--db", db_path, "-f", "csv") == (
        0, "d,n\n2021-07-15 00:00:00,2\n", ""
    )  # fmt: skip


@pytest.mark.parametrize("url", ["ftp://example.org/a.html", "file:///etc/passwd", "example.org/a"])
def test_ingest_refuses_a_non_http_url_before_anything_runs(tmp_path: Path, url: str) -> None:
    db = tmp_path / "news.duckdb"
    assert _invoke("ingest", "--url", url, "--db", str(db)) == (
        1,
        "",
        f"error: --url {url!r} is not an http(s) URL; write it as https://host/path\n",
    )
    assert not db.exists()


@pytest.mark.parametrize("flag", ["--path", "--feed", "--sitemap", "--urls-file"])
def test_ingest_refuses_a_blank_file_or_feed_before_anything_runs(tmp_path: Path, flag) -> None:
    """`--path ""` (an unset shell variable) named the working folder: it ingested what it held."""
    db = tmp_path / "news.duckdb"
    for blank in ("", " "):
        assert _invoke("ingest", flag, blank, "--db", str(db)) == (
            1,
            "",
            f"error: {flag} is given no value; name a file, a folder or a URL\n",
        )
    assert not db.exists()


# --- a sources file newsflow would misread ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "sources file {path} does not exist; create it, or pass another (--sources "
               "FILE, or the flows' sources_file)"),
        ('[[sources]]\nname = "s"\nkind = "path"\nlocation = "x"\n',
         "sources file {path} has unknown table sources; known: settings, source"),
        ('[[source]]\nname = "s"\nkind = "path"\nlocation = "x"\nlimt = 10\n',
         "source 's' in {path} has unknown key limt; known: enabled, kind, limit, location, name, "
         "trust_lastmod"),
        ("[settings]\nbatch_size = -3\n",
         "setting batch_size = -3 (in {path}, or a flag or env var): Input should be greater "
         "than or equal to 1"),
        ('[[source]]\nname = "s"\nkind = "path"\nlocation = "x"\nenabled = false\n',
         "sources file {path} has no enabled source: add a [[source]] or set enabled = true on "
         "one"),
        ("[settings]\nbatch_size = 5\n",
         "sources file {path} has no enabled source: add a [[source]] or set enabled = true on "
         "one"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["ingest", "run"])
def test_a_bad_sources_file_is_refused_before_prefect_starts_or_a_warehouse_is_made(
    prefect_harness: None, tmp_path: Path, command: str, text: str | None, says: str
) -> None:
    """One line and exit 1, no flow run (its Prefect error logs), no warehouse file left behind."""
    path = tmp_path / "sources.toml"
    if text is not None:
        path.write_text(text)
    db = tmp_path / "news.duckdb"
    expected = f"error: {says.format(path=path)}\n"
    assert _invoke(command, "--sources", str(path), "--db", str(db)) == (1, "", expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["sources.toml"] if text else [])


_PREPARE_AND_LIST_FORK_SERVERS = """
import sys
import time

import psutil

from flows.cli import _check_reclean_request, _prepare_run
from tasks.records import Source
from tasks.settings import ExtractionMode


def fork_servers(started):
    # waited for: multiprocessing forks the server and returns before the child runs the
    # server's command line (a busy machine showed none, 3 runs of 8)
    deadline = time.monotonic() + (10 if started else 1)
    while True:
        found = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


page = Source(name="page", kind="path", location=sys.argv[1])
_prepare_run(None, [page], {"db": sys.argv[2], "task_runner": "dask"})
print(len(fork_servers(started=False)))  # on Dask, its workers clean: none here
_check_reclean_request(sys.argv[2], [], ExtractionMode.thorough)
print(len(fork_servers(started=False)))  # a reclean of a warehouse that keeps no page: none
_prepare_run(None, [page], {"db": sys.argv[2]})
print(len(fork_servers(started=True)))
"""


def test_a_flow_command_starts_the_extraction_fork_server_before_the_run(
    tmp_path: Path, page: str
) -> None:
    """The fork server's imports (2.7 s of a core) overlap the temporary API's start: a first
    `newsflow ingest` of one page took 15.1 s, now 12.1 s. On Dask there is nothing to start,
    nor for a reclean of a warehouse with no stored page."""
    script = tmp_path / "prepare.py"
    script.write_text(_PREPARE_AND_LIST_FORK_SERVERS)
    db = str(tmp_path / "news.duckdb")
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(script), page, db],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0", "1"]


def test_ingest_and_run_write_the_warehouse_a_sources_file_names(
    prefect_harness: None, tmp_path: Path, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`db` in [settings] is the run's warehouse unless --db (or NEWSFLOW_DB) names another, as
    for a deployment's run of the same file; the CLI's default used to override it."""
    monkeypatch.chdir(tmp_path)
    named, flag = tmp_path / "lake" / "named.duckdb", tmp_path / "flag.duckdb"
    sources = one_page_sources_file(tmp_path, db=named, name="one", page=page)
    for command in ("ingest", "run"):
        code, out, err = _invoke(command, "--sources", str(sources))
        assert code == 0, err
        _run_url(err)
        assert f"ingestinto{named}" in "".join(out.split())  # the title, however wrapped
    assert not (tmp_path / "warehouse").exists()  # the default, warehouse/news.duckdb
    assert read_only_query(str(named), "SELECT count(*) FROM articles")[1] == [(1,)]
    code, _, err = _invoke("ingest", "--sources", str(sources), "--db", str(flag))
    assert code == 0, err
    assert read_only_query(str(flag), "SELECT DISTINCT run_id FROM fetches")[1] == [
        (_run_url(err),)
    ]


def _article_page(index: int) -> str:
    """A page trafilatura keeps as an article, its text distinct from the other indexes'."""
    return f"<html><body><article><h1>Story {index}</h1><p>{_document(index).text}</p></article>"


def test_run_takes_the_fetch_flags_ingest_takes(prefect_harness: None, site, tmp_path: Path):
    """`newsflow run --allow-private-hosts --ignore-robots --batch-size 1`, as `ingest` has them
    (run had none: only NEWSFLOW_ALLOW_PRIVATE_HOSTS and the file's [settings] reached it)."""
    from tests.test_flows import _load_runs

    robots = b"User-agent: *\nDisallow: /\n"
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, robots)
    urls = [site.url(f"/news/{index}") for index in range(2)]
    for index in range(2):
        site.page(f"/news/{index}", _article_page(index))
    (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "site"\nkind = "urls"\nlocation = "urls.txt"\n')
    db = str(tmp_path / "news.duckdb")
    flags = ["--allow-private-hosts", "--ignore-robots", "--batch-size", "1"]
    code, out, err = _invoke("run", "--sources", str(sources), "--db", db, *flags)
    assert code == 0, err
    assert _flow_of_run(_run_url(err)) == "run"  # the run's page, not its ingest's
    assert read_only_query(db, "SELECT count(*) FROM articles")[1] == [(2,)]
    assert site.hits["/robots.txt"] == 0
    [(run_id,)] = read_only_query(db, "SELECT DISTINCT run_id FROM fetches")[1]
    assert _load_runs(run_id) == 2  # a batch, and so a load, per page


# --- newsflow summarize --------------------------------------------------------------------------


def _newsflow(*args: str, **env_changes: str | None) -> subprocess.CompletedProcess[str]:
    """The real console script on the session's Prefect API, so what Prefect prints is seen too;
    `env_changes` sets environment variables (None unsets one)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "300"}
    env.pop("NEWSFLOW_DB", None)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [str(NEWSFLOW), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _newsflow_as_a_job(
    *args: str, env: dict[str, str] | None = None, text: bool = True
) -> subprocess.Popen:
    """The console script started as a terminal's foreground job is: in a process group of its
    own, taking Ctrl-C. One started in the background of a script (as `make test` may be)
    inherits SIGINT ignored, which only a handler, not SIG_IGN, stops exec passing on."""
    import signal

    taken = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [str(NEWSFLOW), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
            env=env, start_new_session=True,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, taken)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "warehouse {db} does not exist yet; run `newsflow ingest` first"),
        (
            ["--start", "2021-08-16", "--end", "2021-08-06"],
            "start 2021-08-16 is after end 2021-08-06; swap them",
        ),
        (["--start", "2021-08-06", "--last-days", "3"], "pass --start or --last-days, not both"),
    ],
)
def test_summarize_that_cannot_run_fails_in_one_line_before_a_flow_run(
    prefect_harness: None, tmp_path: Path, args: list[str], message: str
) -> None:
    """A warehouse that is not there, or a reversed range: the one line alone, and no flow run
    (it was refused inside one: after the temporary API had started, 17 s here)."""
    db = str(tmp_path / "none.duckdb")
    if args:
        with writer(db):
            pass
    done = _newsflow("summarize", "--db", db, *args)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"error: {message.format(db=db)}\n"  # no "flow run …: URL" line


def test_reclean_reads_the_stored_pages_and_says_what_changed(
    prefect_harness: None, db_path: str, tmp_path: Path
) -> None:
    """Two articles loaded as the clean stage read them (headline from the feed, none on the
    page), read again from their stored pages: the same text, nothing to change; then one that
    is not there is refused in one line before any flow run."""
    _load(db_path)
    done = _newsflow("reclean", "--db", db_path, "--extraction", "fast")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"reclean of {db_path}"
    assert lines[-1] == (
        f"reclean of {db_path} (fast): read 2 stored pages; 0 articles have a new version, "
        "2 the same text and headline, 0 new from pages rejected before"
    )
    assert read_only_query(db_path, "SELECT title, version FROM articles ORDER BY 1")[1] == [
        ("Story 0", 1),
        ("Story 1", 1),
    ]
    code, out, err = _invoke("reclean", "--db", db_path, "--since", "2999-01-01")
    assert code == 0, err  # --since: only the pages fetched since
    assert "read 0 stored pages" in out.splitlines()[-1]
    assert _invoke("reclean", "--db", db_path, "--source", "clj", "--source", "cli") == (
        1,
        "",
        "error: no source named 'clj' in this warehouse; its sources: cli\n",
    )  # a typo, refused before Prefect starts, not a run that reads nothing
    missing = str(tmp_path / "none.duckdb")
    done = _newsflow("reclean", "--db", missing)
    assert (done.returncode, done.stdout) == (1, "")
    assert (
        done.stderr
        == f"error: warehouse {missing} does not exist yet; run `newsflow ingest` first\n"
    )


def test_summarize_where_the_chart_folder_cannot_be_made_fails_in_one_line(
    prefect_harness: None, tmp_path: Path
) -> None:
    """A file named reports beside the warehouse: the chart has nowhere to go (was a 60-line
    traceback of Prefect's, then `error: File exists (…)`)."""
    db = tmp_path / "news.duckdb"
    with writer(str(db)):
        pass
    reports = tmp_path / "reports"
    reports.write_text("a file where the chart's folder should be")
    done = _newsflow("summarize", "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.stderr.splitlines()[-1] == (
        f"error: cannot create the chart's folder {reports}/news: Not a directory "
        f"({reports}/news); move what is in its way (the summaries are written; rerun to draw "
        "the chart)"
    )


# --- Prefect's temporary API ---------------------------------------------------------------------


STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
LOGGING_LEVEL = "PREFECT_LOGGING_LEVEL"
TELEMETRY = "PREFECT_SERVER_ANALYTICS_ENABLED"


def _prefect_home(home: Path, **settings: str) -> Path:
    """A Prefect home whose active profile sets `settings`: the profiles.toml that `prefect
    config set` writes in a new home (written here: the command takes 2.4 s to start)."""
    home.mkdir(parents=True)
    lines = [f"{name} = {json.dumps(value)}" for name, value in settings.items()]
    (home / "profiles.toml").write_text(
        'active = "ephemeral"\n\n[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
        + "\n".join(lines)
        + "\n"
    )
    return home


def test_a_flow_command_takes_prefect_settings_from_the_env_then_the_profile_then_its_own(
    tmp_path: Path,
) -> None:
    """90 s for the temporary API to start, warnings only and no telemetry from the temporary
    API (offline, it logged an ERROR each command), unless the user's environment or Prefect
    profile (`prefect config set`) says otherwise: the profile's value was overridden."""
    code = (
        "from flows.cli import _flow_command\n"
        "@_flow_command\n"
        "def show() -> None:\n"
        "    from prefect.settings import PREFECT_LOGGING_LEVEL as level\n"
        "    from prefect.settings import PREFECT_SERVER_ANALYTICS_ENABLED as telemetry\n"
        "    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as s\n"
        "    print(s.value(), level.value(), telemetry.value())\n"
        "show()\n"
    )
    profiled = _prefect_home(
        tmp_path / "profiled", **{STARTUP_TIMEOUT: "45", LOGGING_LEVEL: "ERROR", TELEMETRY: "true"}
    )
    ours = (STARTUP_TIMEOUT, LOGGING_LEVEL, TELEMETRY)
    plain = {k: v for k, v in os.environ.items() if k not in ours}
    python = str(ROOT / ".venv" / "bin" / "python")
    for home, extra, expected in [
        (tmp_path / "plain", {}, "90 WARNING False"),
        (profiled, {}, "45 ERROR True"),
        (
            profiled,
            {STARTUP_TIMEOUT: "200", LOGGING_LEVEL: "INFO", TELEMETRY: "false"},
            "200 INFO False",
        ),
    ]:
        env = {**plain, "PREFECT_HOME": str(home), **extra}
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
            check=True,
        )  # fmt: skip
        assert done.stdout.strip() == expected, (extra, done.stderr)


def test_a_temporary_api_too_slow_to_start_fails_in_one_line(tmp_path: Path, page: str) -> None:
    """Without a server, a flow command starts Prefect's temporary API and waits for it; when it
    does not answer in time, one line says so and how to give it longer (was a traceback).

    The wait is the one the profile sets (`prefect config set
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=1`): it took 90 s and ran, the profile
    overridden by the CLI's default. That the environment's comes before the profile's is
    test_a_flow_command_takes_prefect_settings_from_the_env_then_the_profile_then_its_own."""
    home = _prefect_home(tmp_path / "prefect", **{STARTUP_TIMEOUT: "1"})
    db = tmp_path / "news.duckdb"
    done = _newsflow(
        "ingest", "--path", page, "--db", str(db),
        PREFECT_HOME=str(home), PREFECT_API_URL=None, **{STARTUP_TIMEOUT: None},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.stderr.splitlines()[-1] == (
        "error: Prefect's temporary API did not start within 1 s (a busy machine?); rerun with "
        "a higher PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or start a server "
        "(`make server`) and export PREFECT_API_URL=http://127.0.0.1:4200/api"
    )


def test_a_piped_flow_command_prints_its_summary_not_prefects_info_logs(
    prefect_harness: None, tmp_path: Path, page: str
) -> None:
    """Outside `make` (which sets PREFECT_LOGGING_LEVEL=WARNING), `newsflow ingest | less` showed
    17 INFO lines of Prefect's before the summary; a level the profile sets still applies."""
    db = str(tmp_path / "news.duckdb")
    done = _newsflow("ingest", "--path", page, "--db", db, PREFECT_LOGGING_LEVEL=None)
    assert done.returncode == 0, done.stderr
    run_id = _run_url(done.stderr)  # Prefect's INFO "View at …" was the only way to find it
    assert read_only_query(db, "SELECT DISTINCT run_id FROM fetches")[1] == [(run_id,)]
    assert "ingest into" in done.stdout and "| INFO" not in done.stdout
    home = _prefect_home(tmp_path / "prefect", **{LOGGING_LEVEL: "INFO"})
    done = _newsflow(
        "ingest", "--path", page, "--db", db, PREFECT_LOGGING_LEVEL=None, PREFECT_HOME=str(home)
    )
    assert done.returncode == 0, done.stderr
    assert "| INFO    | Flow run" in done.stderr and "ingest into" in done.stdout
    assert done.stderr.count("/runs/flow-run/") == 1  # Prefect's "View at …" line, not ours too


def test_the_ingest_summary_names_the_warehouse_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Piped at 80 columns, `ingest into ducklake:/srv/…/lake.ducklake` as the two-column table's
    title broke the warehouse's name over two lines, mid-name."""
    import io

    from rich.console import Console

    from flows import cli
    from flows.ingest import IngestReport

    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=80))
    db = "ducklake:/srv/newsflow/warehouse/lake.ducklake"
    cli._print_ingest(IngestReport(db=db, new=1))
    assert out.getvalue().splitlines()[0] == f"ingest into {db}"


# --- newsflow ingest: a run that fetched nothing -------------------------------------------------


def test_ingest_where_every_fetch_failed_says_so_and_exits_1(prefect_harness, site, db_path):
    """A typo in a URL, a site down: the table alone (exit 0) read like a run that went well."""
    gone = site.url("/news/gone")
    done = _newsflow("ingest", "--url", gone, "--allow-private-hosts", "--db", db_path)
    code, out, err = done.returncode, done.stdout, done.stderr  # the console script: all it prints
    assert code == 1
    assert "failed: http_404 │ 1" in out
    run_ids = read_only_query(db_path, "SELECT DISTINCT run_id FROM fetches")[1]
    assert err.count("every fetch failed") == 1, err  # not Prefect's warning of it as well
    assert err.splitlines()[-1] == (
        "error: every fetch failed (http_404: 1), no article was loaded; see why: newsflow query "
        f"\"SELECT url, outcome, error FROM fetches WHERE run_id = '{run_ids[0][0]}'\" "
        f"--db {db_path}"
    )
    site.page("/news/zaranj", f"<html><body><article><p>{' '.join(WORDS * 20)}</p></article>")
    code, out, err = _invoke(
        "ingest", "--url", gone, "--url", site.url("/news/zaranj"), "--allow-private-hosts",
        "--db", db_path,
    )  # fmt: skip
    assert code == 0, err  # one page fetched: a partial failure is a normal run
    assert _flow_of_run(_run_url(err)) == "ingest"
    assert "failed: http_404 │ 1" in out


@pytest.mark.parametrize(
    "reached",
    [{"new": 1}, {"updated": 1}, {"unchanged": 1}, {"repeated": 1}, {"not_modified": 1},
     {"rejected": {"no_text": 1}}],
)  # fmt: skip
def test_a_run_that_reached_any_page_is_not_all_failed(reached) -> None:
    """A re-run whose other pages answered 304, a page rejected: the 404 beside them is a
    partial failure (exit 0), not a run where every fetch failed (exit 1)."""
    from flows.ingest import IngestReport

    failed = {"http_404": 1}
    assert IngestReport(db="news.duckdb", failed=failed).all_failed()
    assert not IngestReport(db="news.duckdb").all_failed()  # nothing tried: nothing failed
    assert not IngestReport(db="news.duckdb", failed=failed, **reached).all_failed()
    assert not IngestReport(db="news.duckdb", **reached).all_failed()
    source_failed = {"http_404": 1}  # a feed gone, another read
    assert not IngestReport(db="d", source_failed=source_failed, source_documents=1, **reached)\
        .all_failed()  # fmt: skip


def test_every_page_failing_is_a_failed_run_however_its_feed_answered() -> None:
    """A feed read whose every entry failed exited 0 the first time (its entries were stored)
    and 1 the same run again (none new): now 1 both times, saying the pages failed."""
    from flows.ingest import IngestReport

    for entries in (4, 0):
        first_or_again = IngestReport(
            db="d", source_documents=1, discovered=4, feed_entries=entries, failed={"dns": 4}
        )
        assert first_or_again.all_failed()
        assert first_or_again.failures().startswith(
            "every page failed (dns: 4), no article was loaded"
        )
    gone = IngestReport(db="d", source_failed={"http_404": 1})  # no page found: its feed failed
    assert gone.all_failed() and gone.failures().startswith("every fetch failed (http_404: 1)")
    assert "--allow-private-hosts" not in gone.failures()
    loopback = IngestReport(db="d", source_failed={"private_host": 2})  # its fix is a setting
    assert loopback.failures().startswith(
        "every fetch failed (private_host: 2), no article was loaded; private, loopback and "
        "link-local hosts are fetched only with --allow-private-hosts (allow_private_hosts); "
        "see why: "
    )
    empty = IngestReport(db="d", source_documents=1)  # a feed read, with nothing in it
    assert not empty.all_failed()


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm", "sighup"])
def test_ctrl_c_during_ingest_says_what_is_kept_in_one_line(
    db_path: str, tmp_path: Path, ready_prefect_home: Path, stop: str
) -> None:
    """A terminal's Ctrl-C mid-run: one line on what was kept and what to do, exit 130, no
    traceback, and no process of the run left behind, and no page more asked for. SIGTERM to
    the whole group (`timeout`, `kill -TERM -- -PGID`, a service manager) the same, exit 143;
    SIGHUP (a terminal closed) too, exit 129.

    The terminal sends SIGINT to the whole foreground group: here newsflow, Prefect's temporary
    API it starts (no PREFECT_API_URL) and the extraction fork server. The API stopping at once
    left the run to report its crash to nothing: tracebacks, and minutes of retries before it
    exited (SIGTERM to the group: 81 s, exit 1). SIGTERM to newsflow alone killed it at once
    (exit -15, past its exit handlers), and SIGHUP did: the temporary API ran on. All waited for
    the batch in flight to be fetched whole: here 20 slow pages, two at a time (the per-host
    limit), 15 s.
    """
    import signal
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked = threading.Event()
    pages_asked: list[str] = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != "/robots.txt":  # the pages, not the robots.txt asked for first
                pages_asked.append(self.path)
                asked.set()
                time.sleep(1.5)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    home = tmp_path / "prefect"  # the temporary API's database, migrated already (14 s)
    shutil.copytree(ready_prefect_home, home)
    env.update(COLUMNS="300", PREFECT_LOGGING_LEVEL="WARNING", PREFECT_HOME=str(home))
    urls = [f"http://127.0.0.1:{server.server_port}/news/slow/{n}" for n in range(20)]
    command = [str(NEWSFLOW), "ingest", *(f"--url={url}" for url in urls)]
    command += ["--allow-private-hosts", "--db", db_path]
    # A terminal's job takes Ctrl-C and SIGHUP; one started in the background of a script
    # inherits SIGINT ignored, and under nohup SIGHUP too (as `make test` may be): only a
    # handler, not SIG_IGN, stops exec passing that on.
    taken = signal.signal(signal.SIGINT, signal.default_int_handler)
    hangup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        run = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True,  # a group of its own, as a terminal's foreground job has
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, taken)
        signal.signal(signal.SIGHUP, hangup)
    try:
        assert asked.wait(120), "the run never asked for the page"
        time.sleep(1)  # the first two pages' fetches are under way
        api = temporary_apis(home)
        assert len(api) == 1, api
        if stop == "ctrl-c":
            os.killpg(run.pid, signal.SIGINT)
            time.sleep(0.5)
            os.killpg(run.pid, signal.SIGINT)  # an impatient second one, as the run stops
        else:
            os.killpg(run.pid, signal.SIGTERM if stop == "sigterm" else signal.SIGHUP)
        out, err = run.communicate(timeout=60)
        assert group_ends_within(run.pid, 15), "a process of the run outlived it"
        assert ended_within(api, 10), "the temporary API outlived the run"
    finally:
        kill_group(run.pid)
        server.shutdown()
    assert run.returncode == {"ctrl-c": 130, "sigterm": 143, "sighup": 129}[stop], err
    assert len(pages_asked) <= 4, pages_asked  # those under way, and none after (it was 20)
    assert "Traceback" not in err and "Traceback" not in out, err  # the second Ctrl-C's too
    # the first Ctrl-C is answered at once (nothing showed while the fetches under way ended)
    assert (STOPPING in err.replace("\n", " ")) == (stop == "ctrl-c"), err
    assert "/runs/flow-run/" not in err, err  # the run had started; the temporary API has no UI
    assert "Crash detected!" not in err, err  # Prefect's; the line below says what was kept
    # nor the stopped runs' ends (with a Prefect server: 44 lines, a 35-line traceback, QA)
    assert not [line for line in err.splitlines() if "| ERROR" in line or "| WARN" in line], err
    assert err.splitlines()[-1] == (
        "error: interrupted: the batches already loaded are kept (each loads whole or not at "
        "all); rerun the same command to fetch the rest"
    )


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_signal_while_ingest_cleans_says_only_its_one_line(
    tmp_path: Path, ready_prefect_home: Path, stop: str
) -> None:
    """A Ctrl-C or SIGTERM while a page is cleaned: between `stopping` and the CLI's line came
    the stopped task runs' ends, `Task run … Finished in state Crashed(…)` lines, or a clean
    task's ExtractionStopped with its 35-line traceback (44 lines with a Prefect server, QA).
    They are the stop's consequences: the console says the one line; the runs' states keep them.
    """
    import signal
    import time

    import psutil

    from tests.test_clean import _endless_page

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "endless.html").write_text(_endless_page())  # about 15 s to clean
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    home = tmp_path / "prefect"
    shutil.copytree(ready_prefect_home, home)
    env.update(COLUMNS="300", PREFECT_HOME=str(home))
    db = tmp_path / "news.duckdb"
    run = _newsflow_as_a_job("ingest", "--path", str(pages), "--db", str(db), env=env)
    try:
        process, deadline = psutil.Process(run.pid), time.monotonic() + 120
        while not any(  # an extraction worker: a child of the fork server
            "forkserver" in " ".join(p.cmdline()) and p.children() for p in process.children()
        ):
            assert time.monotonic() < deadline and run.poll() is None, run.poll()
            time.sleep(0.2)
        time.sleep(1.0)  # cleaning
        os.killpg(run.pid, signal.SIGINT if stop == "ctrl-c" else signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    finally:
        kill_group(run.pid)
    assert run.returncode == {"ctrl-c": 130, "sigterm": 143}[stop], err
    said = [line for line in err.splitlines() if not line.startswith(STOPPING[:9])]
    assert said == [
        "error: interrupted: the batches already loaded are kept (each loads whole or not at "
        "all); rerun the same command to fetch the rest"
    ], err


def test_a_helper_started_apart_escapes_its_groups_signals_and_ends_with_its_parent() -> None:
    """Prefect's temporary API started in newsflow's process group, so SIGTERM to the group
    (`timeout`) stopped it under the run; and `kill -9` of newsflow left it running for good."""
    import signal
    import sys

    starts_a_helper = """if True:
        import subprocess, sys, time, types
        from tasks.interrupts import started_apart
        library = types.ModuleType("library")
        library.subprocess = subprocess
        with started_apart(library):
            helper = library.subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        assert library.subprocess is subprocess
        print(helper.pid, flush=True)
        time.sleep(60)
    """
    parent = subprocess.Popen(
        [sys.executable, "-c", starts_a_helper],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    try:
        helper = int(parent.stdout.readline())
        assert os.getpgid(helper) == helper != os.getpgid(parent.pid)
        os.killpg(parent.pid, signal.SIGTERM)  # the group's signal: the parent's alone
        assert parent.wait(10) == -signal.SIGTERM
        assert ended_within([helper], 5), "the helper outlived its parent"
    finally:
        kill_group(parent.pid)
        with contextlib.suppress(ProcessLookupError, NameError):
            os.kill(helper, signal.SIGKILL)


def test_a_helper_started_apart_may_write_to_its_terminal_under_tostop() -> None:
    """Apart, Prefect's temporary API is a background process group on the command's terminal:
    under `stty tostop`, a write of its stopped it (SIGTTOU), and the command waited 90 s for
    it to start (QA, once)."""
    import pty
    import sys

    writes_apart = """if True:
        import fcntl, subprocess, sys, termios, types
        from tasks.interrupts import started_apart
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty: this session's terminal
        modes = termios.tcgetattr(0)
        modes[3] |= termios.TOSTOP
        termios.tcsetattr(0, termios.TCSANOW, modes)
        library = types.ModuleType("library")
        library.subprocess = subprocess
        with started_apart(library):
            helper = library.subprocess.Popen([sys.executable, "-c", "print('written')"])
        sys.exit(helper.wait(timeout=5))
    """
    terminal, its_end = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, "-c", writes_apart], stdin=its_end, stdout=its_end, stderr=its_end,
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    os.close(its_end)
    shown = b""
    try:
        with contextlib.suppress(OSError):  # EIO once the session's processes have ended
            while chunk := os.read(terminal, 4096):
                shown += chunk
        assert run.wait(10) == 0, shown.decode(errors="replace")
    finally:
        os.close(terminal)
        kill_group(run.pid)
    assert b"written" in shown


def test_a_hangup_ends_newsflow_as_sigterm_does_but_not_under_nohup(monkeypatch) -> None:
    """SIGHUP (a terminal closed) killed newsflow past its exit handlers, and the temporary API
    ran on; under `nohup`, which ignores it, newsflow must go on ignoring it. Once the command
    has ended, a signal ends the process as by default: raised in Prefect's exit handler (it
    stops the temporary API), it printed a traceback and the command exited 0 (QA)."""
    import signal

    import flows.cli
    from flows import console

    during: dict[int, object] = {}

    def command() -> None:
        during.update(
            {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
        )
        raise SystemExit(0)

    monkeypatch.setattr(flows.cli, "app", command)
    kept = {
        signum: signal.getsignal(signum)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        for started, taken in (
            (signal.SIG_DFL, console._raise_terminated),
            (signal.SIG_IGN, signal.SIG_IGN),
        ):
            signal.signal(signal.SIGHUP, started)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist's workers ignore it
            with pytest.raises(SystemExit):
                console.main()
            assert during == {signal.SIGTERM: console._raise_terminated, signal.SIGHUP: taken}
            after = started  # ended: as by default, or still ignored
            assert signal.getsignal(signal.SIGHUP) == after
            assert (
                signal.getsignal(signal.SIGTERM)
                == signal.getsignal(signal.SIGINT)
                == signal.SIG_DFL
            )
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
    monkeypatch.setattr(console.sys, "platform", "darwin")  # no PDEATHSIG for the API there:
    try:  # the exit handler must stop it, so a signal waits
        signal.signal(signal.SIGTERM, console._raise_terminated)
        console._signals_end_it()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
    with pytest.raises(console.HungUp) as hangup:
        console._raise_terminated(signal.SIGHUP, None)
    with pytest.raises(console.Terminated) as term:
        console._raise_terminated(signal.SIGTERM, None)
    assert (console.exit_status(hangup.value), console.exit_status(term.value)) == (129, 143)
    assert console.exit_status(KeyboardInterrupt()) == 130


def test_a_terminal_gone_as_a_hangup_stops_the_run_is_said_as_the_hangup(capsys) -> None:
    """Closing the terminal mid-run: the progress display's last write failed (EIO), and the
    command said `error: Input/output error (file system)`, exit 1, not the hangup (QA)."""
    import errno

    import typer

    from flows.cli import _RUN_STARTED, INTERRUPTED_INGEST, _user_errors
    from flows.console import HungUp

    _RUN_STARTED.set()
    try:
        with pytest.raises(typer.Exit) as ended, _user_errors(INTERRUPTED_INGEST):
            try:
                raise HungUp
            finally:
                raise OSError(errno.EIO, "Input/output error")  # noqa: B012
    finally:
        _RUN_STARTED.clear()
    assert ended.value.exit_code == 129
    assert capsys.readouterr().err.replace("\n", " ").startswith(f"error: {INTERRUPTED_INGEST}")


def test_ctrl_c_before_the_flow_run_starts_says_nothing_was_written(capsys) -> None:
    """Ctrl-C while Prefect's temporary API starts, after the command's checks: it said what the
    run had kept ("the batches already loaded are kept"), and no run had started (QA)."""
    import typer

    from flows.cli import _RUN_STARTED, INTERRUPTED_INGEST, _interrupted_says

    _RUN_STARTED.clear()  # as a flow command's start leaves it; other tests' runs may set it
    before = "interrupted before the run started: no run was made, no data written"
    for started, said in ((False, before), (True, INTERRUPTED_INGEST)):
        if started:
            _RUN_STARTED.set()
        try:
            with pytest.raises(typer.Exit) as exited, _interrupted_says(INTERRUPTED_INGEST):
                raise KeyboardInterrupt
        finally:
            _RUN_STARTED.clear()
        assert (exited.value.exit_code, capsys.readouterr().err) == (130, f"error: {said}\n")


def test_a_signal_once_the_run_has_completed_says_so(prefect_harness: None, capsys) -> None:
    """A Ctrl-C or SIGTERM after the command's flow run completed, before its closing line: it
    said the batches already loaded were kept and to rerun, as for a run cut short. A signal
    during the run still says that."""
    import typer
    from prefect import flow

    from flows.cli import (
        INTERRUPTED_AFTER_THE_RUN,
        INTERRUPTED_INGEST,
        _interrupted_says,
        _printing_its_url,
        _stopping_says_so,
    )

    @flow
    def tiny(cut_short: bool) -> int:
        if cut_short:
            raise KeyboardInterrupt
        return 1

    for cut_short, said in ((False, INTERRUPTED_AFTER_THE_RUN), (True, INTERRUPTED_INGEST)):
        with (  # as a flow command nests them (_flow_command, then _user_errors)
            pytest.raises(typer.Exit) as exited,
            _stopping_says_so(),
            _interrupted_says(INTERRUPTED_INGEST),
        ):
            _printing_its_url(tiny)(cut_short)
            raise KeyboardInterrupt  # as the command goes to print the run's report
        last_line = capsys.readouterr().err.splitlines()[-1]  # after the run's URL
        assert (exited.value.exit_code, last_line) == (130, f"error: {said}")


def test_a_sigterm_prefect_turns_into_another_error_still_says_interrupted(
    prefect_harness: None, capsys
) -> None:
    """A SIGTERM raised as Prefect's task engine set a task run up came out of the run as
    ValueError("Task run is not set"): the command said `error: Task run is not set` and exited
    1, not 143 with its `interrupted` line (1 of 20 SIGTERMs mid-reclean). Here the flow turns
    the signal into that error as the engine did, under the handler a command runs with."""
    import signal

    import typer
    from prefect import flow
    from prefect.exceptions import TerminationSignal

    from flows.cli import INTERRUPTED_RECLEAN, _printing_its_url, _stopping_says_so, _user_errors
    from tasks.interrupts import hold_prefect_sigterm, prefect_sigterm_taken

    @flow
    def masked() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except TerminationSignal:
            raise ValueError("Task run is not set") from None

    hold_prefect_sigterm()  # as the flow modules do
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # Prefect's re-kill: not for us
    try:
        with (  # as a flow command nests them (_flow_command, then _user_errors)
            pytest.raises(typer.Exit) as exited,
            _stopping_says_so(),
            _user_errors(INTERRUPTED_RECLEAN),
        ):
            _printing_its_url(masked)()
    finally:
        signal.signal(signal.SIGTERM, previous)
        prefect_sigterm_taken.clear()
    assert exited.value.exit_code == 143
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {INTERRUPTED_RECLEAN}"
    with pytest.raises(typer.Exit) as failed, _stopping_says_so(), _user_errors():
        raise ValueError("a user error, no signal")  # without one, an error is an error
    assert failed.value.exit_code == 1
    prefect_sigterm_taken.set()  # as another test's, or command's, run left it
    try:
        with pytest.raises(typer.Exit) as failed, _user_errors():
            raise ValueError("a user error of a command that runs no flow")
    finally:
        prefect_sigterm_taken.clear()
    assert failed.value.exit_code == 1


def test_a_flow_command_started_to_ignore_ctrl_c_goes_on_ignoring_it() -> None:
    """A command run in the background of a script, or under nohup, starts with SIGINT ignored:
    its Ctrl-C handler (_stopping_says_so) must not make it take one."""
    import signal

    from flows.cli import _RUN_STARTED, _stopping_says_so

    taken = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _stopping_says_so():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            _RUN_STARTED.set()  # as the run starts
        assert not _RUN_STARTED.is_set()  # left set, a later command's early Ctrl-C said "stopping"
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with _stopping_says_so():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        # once stopping, no Ctrl-C is taken to the command's exit (a second one, as Prefect's
        # exit handlers ran, printed a traceback)
        with pytest.raises(KeyboardInterrupt), _stopping_says_so():
            _RUN_STARTED.set()
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, taken)


@pytest.mark.parametrize(
    "loaded",
    [
        "rich",  # the script is importing flows.cli (before the command starts)
        "prefect",  # the first module of Prefect: the command is importing Prefect's settings
        "flows.ingest",  # the flow: the command is importing Prefect's server, to shield it
    ],
)
def test_ctrl_c_while_a_flow_command_loads_prefect_says_nothing_was_written(
    tmp_path: Path, page: str, loaded: str
) -> None:
    """Ctrl-C in the seconds a flow command spends importing Prefect and its flow, before the run
    starts: one line saying so, exit 130 (it exited 130 with no word: typer's own handling)."""
    import signal

    db = tmp_path / "news.duckdb"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # each import's line as it ends
    env.pop("PREFECT_API_URL", None)
    run = _newsflow_as_a_job("ingest", "--path", page, "--db", str(db), env=env)
    try:
        assert run.stderr is not None
        for line in run.stderr:  # flows.cli imports neither Prefect nor the flow
            if line.rpartition("|")[2].strip().startswith(loaded):
                break
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out, err
    assert err.splitlines()[-1] == (
        "error: interrupted before the run started: no run was made, no data written"
    )
    assert not db.exists()


def test_ctrl_c_during_a_long_query_stops_it_at_once(tmp_path: Path) -> None:
    """`newsflow query` of SQL that would run for minutes: Ctrl-C ends it within seconds, in one
    line, exit 130. (DuckDB, running the query in the main thread, missed the signal: it ran on.)"""
    import signal
    import time

    import psutil

    db = tmp_path / "news.duckdb"
    with writer(str(db)):
        pass
    endless = "SELECT count(*) FROM range(100000000000) t(a) WHERE a % 7 = 3"
    run = _newsflow_as_a_job("query", endless, "--db", str(db))
    try:
        process, deadline = psutil.Process(run.pid), time.monotonic() + 60
        while str(db) not in {f.path for f in process.open_files()}:  # the warehouse is open
            assert time.monotonic() < deadline and run.poll() is None, run.poll()
            time.sleep(0.1)
        time.sleep(1.0)  # the query is running
        os.killpg(run.pid, signal.SIGINT)
        interrupted = time.monotonic()
        out, err = run.communicate(timeout=30)
        stopped_in = time.monotonic() - interrupted
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert stopped_in < 10, stopped_in
    assert "Traceback" not in err and out == "", err
    assert err.splitlines()[-1] == "error: interrupted: nothing was written"


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_signal_while_a_query_prints_says_the_output_is_cut_short(
    tmp_path: Path, signum: str
) -> None:
    """A script reading `newsflow query … -f csv` got half a CSV, exit 130 and no word on
    stderr, SIGTERM too (QA): the printing was outside the command's handling of a signal.
    Signalled once the CSV has begun: one line, 143 for SIGTERM, 130 for Ctrl-C."""
    import signal

    db = tmp_path / "news.duckdb"
    with writer(str(db)):
        pass
    sent = getattr(signal, signum)
    query = "SELECT * FROM range(3000000)"
    run = _newsflow_as_a_job("query", query, "-f", "csv", "--db", str(db), text=False)
    try:
        assert run.stdout is not None and run.stderr is not None
        assert run.stdout.read(100).startswith(b"range\r\n0\r\n")  # the CSV has begun
        os.killpg(run.pid, sent)
        out, err = run.communicate(timeout=30)
    finally:
        run.kill()
    said = err.decode()
    assert run.returncode == 128 + sent, said
    assert "Traceback" not in said, said
    assert said.splitlines()[-1] == (
        "error: interrupted while printing: the output is cut short, nothing was written"
    )
    assert len(out) < 20_000_000  # cut, not the whole of it


def test_ctrl_c_during_a_long_export_names_the_folder_to_rewrite(
    db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsflow export` stopped by Ctrl-C: one line saying what the folder holds, exit 130,
    within seconds. Its tables' query is replaced by one that runs a minute unless stopped."""
    import threading
    import time

    from warehouse import summaries

    with writer(db_path):
        pass
    tables = dict.fromkeys(summaries.SUMMARY_TABLES, endless_query())
    monkeypatch.setattr(summaries, "_READ_TABLE", tables)
    writing, write_table = threading.Event(), summaries._write_table
    monkeypatch.setattr(
        summaries, "_write_table", lambda *args: (writing.set(), write_table(*args))[1]
    )
    out = tmp_path / "out"
    before = out / f"{summaries.SUMMARY_TABLES[0]}.csv"  # an export's before this one
    out.mkdir()
    before.write_text("day,capitals\n2021-08-06,Zaranj\n")
    with ctrl_c_once(writing):
        started = time.monotonic()
        code, stdout, err = _invoke("export", "--out", str(out), "--db", db_path)
    stopped_in = time.monotonic() - started
    assert (code, stdout) == (130, ""), err
    assert stopped_in < 10, stopped_in
    assert err.splitlines()[-1] == (
        f"error: interrupted: each file in {out} is whole, but some may be from the export "
        "before; rerun the same command"
    )
    # what DuckDB was writing is dropped, and the file it would have replaced is left whole
    assert [p.name for p in out.iterdir()] == [before.name]
    assert before.read_text() == "day,capitals\n2021-08-06,Zaranj\n"


def test_ctrl_c_during_a_summaries_statement_says_what_is_kept(
    prefect_harness: None, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsflow summarize` stopped by Ctrl-C while DuckDB runs one of its statements (in the
    main thread: the flow calls its tasks there): one line on what is kept, exit 130, within
    seconds. It exited 1 with a traceback, after waiting for the statement to end: DuckDB had
    turned the Ctrl-C into RuntimeError("Query interrupted"), which failed the task and the run.
    The recompute's first statement is replaced by one that runs a minute unless stopped."""
    import threading
    import time

    from warehouse import summaries

    report = "Taliban fighters captured the city of Ghazni on Thursday, officials said. " * 3
    story = cleaned_document(
        "https://example.org/2021/08/12/ghazni", report, source_name="cli", title="Ghazni falls",
        published_at=datetime(2021, 8, 12, 9, tzinfo=UTC),
    )  # fmt: skip
    write_batch(db_path, fetches=[story.fetch], documents=[story], prints=fingerprints([story]))
    recomputing, named = threading.Event(), summaries.sql

    def statement(name: str) -> str:
        if name != "summaries_article_volume":
            return named(name)
        recomputing.set()
        return endless_query("start", "end")

    monkeypatch.setattr(summaries, "sql", statement)
    with ctrl_c_once(recomputing):
        started = time.monotonic()
        code, stdout, err = _invoke("summarize", "--db", db_path)
    stopped_in = time.monotonic() - started
    assert code == 130, err
    assert stopped_in < 30, stopped_in
    assert "Traceback" not in err, err
    assert err.splitlines()[-1] == (
        "error: interrupted: the event batches and day ranges already written are kept (each is "
        "written whole or not at all); rerun the same command to finish"
    )
    with reader(db_path) as conn:  # the events are kept; nothing of the recompute is written
        events = "SELECT DISTINCT capital FROM capture_events"
        assert conn.execute(events).fetchall() == [("Ghazni",)]
        assert conn.execute("SELECT count(*) FROM daily_article_counts").fetchone() == (0,)
