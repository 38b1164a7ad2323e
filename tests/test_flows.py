"""The ingest flow end to end: real Prefect, real HTTP on 127.0.0.1, real DuckDB files."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, one_page_sources_file
from warehouse.db import reader, writer
from warehouse.queries import pages_to_reclean

PAGES = ["bbc-1", "cnn", "guardian-1", "nytimes-1", "wapo-1"]
FOUNDING = "000_cf0c220304eb5a48.txt"


def _page(corpus: Path, case: str) -> str:
    raw = (corpus / "extraction" / "readability" / "pages" / case / "source.html.gz").read_bytes()
    return gzip.decompress(raw).decode("utf-8")


def _syndicate(html: str) -> str:
    """Another outlet's copy of a page: its own URL, a new headline, one paragraph rewritten."""
    html = re.sub(r"<link[^>]+canonical[^>]*>|<meta[^>]+og:url[^>]*>", "", html, flags=re.I)
    html = re.sub(
        r"<title>.*?</title>",
        "<title>Wire copy: another headline</title>",
        html,
        count=1,
        flags=re.S,
    )
    paragraphs = [m for m in re.finditer(r"<p[^>]*>(.{200,}?)</p>", html, re.S)]
    target = paragraphs[len(paragraphs) // 2]
    edited = "An editor at the syndicating outlet rewrote this paragraph entirely for its readers."
    return html[: target.start(1)] + edited + html[target.end(1) :]


def _rows(db_path: str, query: str) -> list[tuple]:
    with reader(db_path) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def newsroom(site, corpus, tmp_path):
    """A site with five real pages, a feed, a sitemap, a URL list, robots.txt and some failures."""
    for case in PAGES:
        site.page(f"/news/{case}", _page(corpus, case))
    site.page("/wire/nytimes-1", _syndicate(_page(corpus, "nytimes-1")))
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    site.page("/private/memo", "<html><body><p>internal</p></body></html>")
    site.page("/files/report.pdf", b"%PDF-1.4 binary", "application/pdf")
    site.page(
        "/feed.xml",
        f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Example</title>
        <item><title>BBC item</title><link>{site.url("/news/bbc-1")}</link>
              <guid>bbc-1</guid><pubDate>Fri, 24 Jul 2015 04:36:09 GMT</pubDate></item>
        <item><title>Gone</title><link>{site.url("/news/gone")}</link><guid>gone</guid>
              <description>Its page is missing, the entry is kept.</description></item>
        </channel></rss>""",
        "application/rss+xml",
    )
    site.page(
        "/sitemap.xml",
        f"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <url><loc>{site.url("/news/cnn")}</loc></url>
        <url><loc>{site.url("/news/guardian-1")}</loc></url></urlset>""",
        "application/xml",
    )
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# one a line\n"
        + "\n".join(
            site.url(p)
            for p in ["/news/nytimes-1", "/wire/nytimes-1", "/news/wapo-1", "/private/memo"]
        )
        + f"\n{site.url('/files/report.pdf')}\n"
    )
    scrapes = tmp_path / "scrapes"
    scrapes.mkdir()
    shutil.copy(corpus / "seed" / FOUNDING, scrapes / FOUNDING)
    return {
        "urls_files": [str(urls)],
        "feeds": [site.url("/feed.xml")],
        "sitemaps": [site.url("/sitemap.xml")],
        "paths": [str(scrapes)],
    }


def test_ingest_every_source_kind_then_rerun_loads_nothing_new(
    prefect_harness, newsroom, site, db_path
):
    from flows.ingest import ingest

    first = ingest(**newsroom, db=db_path, allow_private_hosts=True)
    # bbc-1 (feed), cnn, guardian-1 (sitemap), nytimes-1, its wire copy, wapo-1 (list), founding
    assert first.new == 7
    assert first.duplicates == {"near": 1}
    assert first.failed == {"http_404": 1, "robots": 1, "content_type": 1}
    assert first.feed_entries == 2
    # The feed, the sitemap and the URL list are source documents, not pages, so `fetched` adds
    # up against `discovered` (2 from the feed, 2 from the sitemap, 5 listed, 1 saved page):
    # 7 pages fetched and 3 failed.
    assert (first.source_documents, first.discovered, first.fetched) == (3, 10, 7)
    assert _rows(db_path, "SELECT count(*) FROM feed_entries WHERE title = 'Gone'") == [(1,)]
    outcomes = dict(_rows(db_path, "SELECT regexp_extract(url, '/[^/]+$'), outcome FROM fetches"))
    assert outcomes["/memo"] == "robots" and outcomes["/report.pdf"] == "content_type"
    wire, original = _rows(
        db_path,
        "SELECT (SELECT duplicate_of FROM articles WHERE url LIKE '%/wire/%'),"
        " (SELECT id FROM articles WHERE url LIKE '%/news/nytimes-1')",
    )[0]
    assert wire == original
    founding = _rows(db_path, f"SELECT title, published_at::DATE, text FROM articles "
                     f"WHERE url LIKE '%{FOUNDING}'")  # fmt: skip
    title, published, text = founding[0]
    assert title.startswith("Taliban claims capture of Afghanistan")
    assert str(published) == "2021-08-12"
    assert "bookmarkicon" not in text and "Also on rt.com" not in text

    hits_before = dict(site.hits)
    second = ingest(**newsroom, db=db_path, allow_private_hosts=True)
    assert (second.new, second.updated) == (0, 0)
    assert second.not_modified == 6  # every served page answered 304
    assert _rows(db_path, "SELECT count(*), count(DISTINCT cluster_id) FROM articles") == [(7, 6)]
    assert site.hits["/news/cnn"] == hits_before["/news/cnn"] + 1


def _sitemap(site, lastmods: dict[str, str]) -> None:
    urls = "".join(
        f"<url><loc>{site.url(path)}</loc><lastmod>{lastmod}</lastmod></url>"
        for path, lastmod in lastmods.items()
    )
    sitemap = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    site.page("/sitemap.xml", sitemap + urls + "</urlset>", "application/xml")


def _asked_since(site, hits: dict[str, int]) -> list[int]:
    """Requests for cnn, guardian-1 and wapo-1 since `hits` was taken."""
    return [site.hits[f"/news/{c}"] - hits[f"/news/{c}"] for c in ("cnn", "guardian-1", "wapo-1")]


def test_a_sitemap_page_unchanged_since_fetched_is_not_requested_again(
    prefect_harness, site, corpus, db_path
):
    """A news sitemap is re-read every half hour and lists hundreds of pages, most unchanged:
    each was asked again (a 304, after its turn in the per-host queue). A page whose lastmod is
    no later than its last answer is now not requested; its row says not_modified after 0
    attempts, and its article is seen. A lastmod that is a date alone may mean any time of that
    day where the site is: its page is still asked."""
    from datetime import UTC, datetime, timedelta

    from flows.ingest import ingest

    for case in ("cnn", "guardian-1", "wapo-1"):
        site.page(f"/news/{case}", _page(corpus, case))
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    lastmods = {"/news/cnn": an_hour_ago, "/news/guardian-1": an_hour_ago}
    _sitemap(site, lastmods | {"/news/wapo-1": datetime.now(UTC).date().isoformat()})
    parameters = {"sitemaps": [site.url("/sitemap.xml")], "db": db_path}
    assert ingest(**parameters, allow_private_hosts=True).new == 3
    between_runs = datetime.now(UTC).isoformat(timespec="microseconds")

    hits = dict(site.hits)
    second = ingest(**parameters, allow_private_hosts=True, return_state=True)
    assert second.result().not_modified == 3
    assert _asked_since(site, hits) == [0, 0, 1]
    rows = _rows(
        db_path,
        "SELECT regexp_extract(url, '[^/]+$'), outcome, status, attempts, etag IS NOT NULL "
        f"FROM fetches WHERE run_id = '{second.state_details.flow_run_id}' AND url LIKE '%/news/%' "
        "ORDER BY 1",
    )
    assert rows == [
        ("cnn", "not_modified", None, 0, True),
        ("guardian-1", "not_modified", None, 0, True),
        ("wapo-1", "not_modified", 304, 1, True),
    ]
    seen = _rows(db_path, "SELECT count(*) FROM articles WHERE last_seen_at > first_seen_at")
    assert seen == [(3,)]

    # cnn edited before the second run, which read a sitemap a cache had kept (its lastmod is
    # later than cnn's last answer, not than the run that did not ask it); guardian-1 given a
    # new lastmod but the same page: asked with the validators of its first fetch, which the
    # rows of the run that did not ask it carried
    site.page("/news/cnn", _syndicate(_page(corpus, "cnn")))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    _sitemap(
        site, {"/news/cnn": between_runs, "/news/guardian-1": now, "/news/wapo-1": an_hour_ago}
    )
    hits = dict(site.hits)
    third = ingest(**parameters, allow_private_hosts=True)
    assert (third.updated, third.not_modified) == (1, 2)
    assert _asked_since(site, hits) == [1, 1, 0]
    assert _rows(
        db_path, "SELECT status FROM fetches WHERE url LIKE '%guardian-1' ORDER BY fetch_id DESC"
    )[0] == (304,)


def _load_runs(flow_run_id) -> int:
    """How many load_batch task runs the flow run made (all have ended once the flow has)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_filter)
    return sum(run.name.startswith("load_batch") for run in runs)


def test_a_rerun_of_unchanged_pages_logs_every_url_in_one_load(
    prefect_harness, site, corpus, tmp_path, db_path
):
    """Batches with nothing to clean (304s, failures) are held and loaded together: a re-run of
    five unchanged pages and a missing one, in batches of two, is one load, and still leaves a
    fetch row for every URL it tried."""
    from flows.ingest import ingest

    for case in PAGES:
        site.page(f"/news/{case}", _page(corpus, case))
    urls = [site.url(f"/news/{case}") for case in [*PAGES, "gone"]]
    parameters = {"urls": urls, "db": db_path, "allow_private_hosts": True, "batch_size": 2}
    first = ingest(**parameters, return_state=True)
    assert first.result().new == 5 and first.result().failed == {"http_404": 1}
    assert _load_runs(first.state_details.flow_run_id) == 3  # each batch had a page to clean

    second = ingest(**parameters, return_state=True)
    report = second.result()
    assert (report.not_modified, report.failed, report.new) == (5, {"http_404": 1}, 0)
    assert _load_runs(second.state_details.flow_run_id) == 1
    assert dict(_rows(db_path, "SELECT run_id, count(*) FROM fetches GROUP BY 1")) == {
        str(first.state_details.flow_run_id): 6,
        str(second.state_details.flow_run_id): 6,
    }


def _an_endless_page_first(
    site, corpus: Path, tmp_path: Path, pages: int, *, clean_seconds: float, workers: int
) -> tuple[list[str], Path]:
    """URLs of a page that takes about 15 s to clean, then of `pages` real pages, all on the
    loopback site; and a sources file bounding a page's clean at `clean_seconds`."""
    from tests.test_clean import _endless_page

    site.page("/news/endless", _endless_page())
    urls = [site.url("/news/endless")]
    for case in PAGES[:pages]:
        site.page(f"/news/{case}", _page(corpus, case))
        urls.append(site.url(f"/news/{case}"))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f"[settings]\nclean_page_seconds = {clean_seconds}\nclean_workers = {workers}\n"
    )
    return urls, sources


def test_a_page_that_outlasts_clean_page_seconds_is_rejected_and_the_rest_load(
    prefect_harness, site, corpus, tmp_path, db_path
):
    """The sources file's clean_page_seconds reaches the extraction pool, in a run of a few pages
    too (a scheduled run's usual size): a 3 MB page that takes about 15 s to clean is given up
    after 1 s, recorded as fetched and rejected clean_timeout, and the batch's other pages load."""
    from flows.ingest import ingest

    urls, sources = _an_endless_page_first(site, corpus, tmp_path, 4, clean_seconds=1.0, workers=2)
    report = ingest(sources_file=str(sources), urls=urls, db=db_path, allow_private_hosts=True)

    assert (report.fetched, report.rejected) == (5, {"clean_timeout": 1})
    assert (report.new, report.duplicates) == (4, {})
    assert _rows(db_path, "SELECT url, reason FROM rejected") == [
        (site.url("/news/endless"), "clean_timeout")
    ]
    assert _rows(db_path, "SELECT count(*) FROM fetches WHERE outcome = 'ok'") == [(5,)]


def test_a_page_whose_extraction_process_died_is_fetched_in_full_on_the_next_run(
    prefect_harness, site, corpus, tmp_path, db_path
):
    """A page whose extraction process is killed twice (the second time alone) is rejected
    clean_crash and the other pages load; the next run sends it no validator, so it is fetched and
    cleaned again (the crash may have been the machine's): here it is only slow, rejected
    clean_timeout, and the run after that gets a 304 for it."""
    import threading

    from flows.ingest import ingest
    from tests.test_clean import _kill_extraction_workers

    urls, sources = _an_endless_page_first(site, corpus, tmp_path, 2, clean_seconds=3.0, workers=1)

    def run():
        return ingest(sources_file=str(sources), urls=urls, db=db_path, allow_private_hosts=True)

    killed: list[int] = []
    killer = threading.Thread(target=_kill_extraction_workers, args=(2, 1.0, killed))
    killer.start()
    first = run()
    killer.join()
    assert len(killed) == 2
    assert (first.new, first.rejected) == (2, {"clean_crash": 1})
    second = run()
    assert (second.fetched, second.not_modified, second.rejected) == (1, 2, {"clean_timeout": 1})
    third = run()
    assert (third.fetched, third.not_modified, third.rejected) == (0, 3, {})
    assert _rows(db_path, "SELECT reason FROM rejected") == [("clean_timeout",)]
    assert site.hits["/news/endless"] == 3


def test_the_pool_server_starts_early_only_for_runs_with_new_pages_to_clean():
    """Its start-up (seconds of one core) overlaps the first fetch when some URL is new; a
    re-run (known URLs: 304s) or Dask never start it."""
    from flows.ingest import _will_use_the_pool
    from tasks.records import WorkItem
    from tasks.settings import Settings

    items = [WorkItem(f"https://news.example.com/{i}", "t") for i in range(20)]
    known = {item.url: ('"etag"', None) for item in items}
    threads = Settings()
    assert _will_use_the_pool(items, threads, {})
    assert _will_use_the_pool(items, threads, dict(list(known.items())[:19]))  # 1 new
    assert not _will_use_the_pool(items, threads, known)
    assert _will_use_the_pool(items, Settings(clean_workers=1, batch_size=1), {})
    assert not _will_use_the_pool(items, Settings(task_runner="dask"), {})


_ARENAS_SCRIPT = """
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "flow":
    import flows.ingest  # noqa: F401
libc = ctypes.CDLL("libc.so.6")
barrier = threading.Barrier(8)
def allocate():
    barrier.wait()
    kept = [bytearray(4096) for _ in range(2000)]
    del kept
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_the_flow_process_caps_malloc_arenas_for_its_threads():
    """Eight threads allocating at once get eight arenas of their own in a plain process; in one
    that imported the ingest flow they share two (tasks.settings.limit_malloc_arenas)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def arenas(mode: str) -> int:
        command = [sys.executable, "-c", _ARENAS_SCRIPT, mode]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip().splitlines()[-1])

    assert arenas("plain") > 2
    assert arenas("flow") <= 2


def test_the_extraction_parameter_picks_the_clean_stage_mode(prefect_harness, tmp_path):
    """On the Aybak sample the two modes clean differently (only the thorough one drops the
    byline line); each run stores what its mode makes of the page."""
    from flows.ingest import ingest
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode

    page = ROOT / "samples" / "2021-08-10_hindu-kush-herald_aybak.html"
    cleaned = {
        mode: clean_html(page.read_text(), page.as_uri(), mode=mode) for mode in ExtractionMode
    }
    assert cleaned[ExtractionMode.fast].text != cleaned[ExtractionMode.thorough].text
    for mode in ExtractionMode:
        db = str(tmp_path / f"{mode}.duckdb")
        assert ingest(paths=[str(page)], db=db, extraction=mode).new == 1
        assert _rows(db, "SELECT text FROM articles") == [(cleaned[mode].text,)]


def test_one_off_sources_replace_the_files_sources_and_keep_its_settings(
    prefect_harness, tmp_path, monkeypatch
):
    """A deployment's run by hand, `prefect deployment run ingest/ingest --param paths=[…]` (or
    feeds, urls, …): the deployment's sources_file stays a parameter, and its [settings] (here the
    warehouse) apply; its sources are not ingested too (they were, beside the one-off ones)."""
    from flows.ingest import ingest

    monkeypatch.chdir(tmp_path)  # where the default warehouse/news.duckdb does not exist
    configured = ROOT / "samples" / "2021-08-06_frontier-dispatch_zaranj.html"
    one_off = ROOT / "samples" / "2021-08-10_hindu-kush-herald_aybak.html"
    db = str(tmp_path / "named-in-settings.duckdb")
    sources = one_page_sources_file(tmp_path, db=db, name="configured", page=configured)
    deployment = {"sources_file": str(sources)}  # as prefect.yaml's parameters
    report = ingest(**deployment, paths=[str(one_off)])
    assert (report.db, report.sources, report.new) == (db, 1, 1)
    assert _rows(db, "SELECT url FROM articles") == [(one_off.as_uri(),)]
    assert not (tmp_path / "warehouse").exists()
    assert ingest(**deployment).new == 1  # without one-off sources, the file's


def test_the_run_flow_ingests_with_its_parameters_then_summarizes_that_warehouse(
    prefect_harness, tmp_path, monkeypatch
):
    """`newsflow run` / `make run`: the sources file's pages go into the db its [settings] name,
    cleaned in the extraction mode given (the Aybak sample cleans differently in each), and the
    summary reads that same warehouse."""
    from flows.run import run
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode

    monkeypatch.chdir(tmp_path)  # where the default warehouse/news.duckdb does not exist
    page = ROOT / "samples" / "2021-08-10_hindu-kush-herald_aybak.html"
    db = str(tmp_path / "run.duckdb")
    sources = one_page_sources_file(tmp_path, db=db, name="aybak", page=page)
    report = run(sources_file=str(sources), extraction=ExtractionMode.fast)
    assert (report.ingest.db, report.ingest.new, report.summary.db) == (db, 1, db)
    fast = clean_html(page.read_text(), page.as_uri(), mode=ExtractionMode.fast).text
    assert _rows(db, "SELECT text FROM articles") == [(fast,)]
    assert report.summary.articles_read == 1 and report.summary.capitals_reported == 1
    assert not (tmp_path / "warehouse").exists()
    # the run's own page shows both halves (it had no artifact, only its two child runs')
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        key = ArtifactFilterKey(any_=["run-report-run"])
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(key=key))
        assert client.read_flow(client.read_flow_run(artifact.flow_run_id).flow_id).name == "run"
    assert artifact.data.startswith(f"# newsflow run into `{db}`\n\n## Ingest\n")
    assert "| new | 1 |" in artifact.data and report.summary.headline() in artifact.data


def test_a_second_process_writing_meanwhile_makes_the_load_wait_not_fail(
    prefect_harness, newsroom, db_path, tmp_path
):
    """Another process holds the warehouse for a few seconds mid-run; our loads wait, then land."""
    from flows.ingest import ingest
    from warehouse.db import writer

    with writer(db_path):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from warehouse.db import writer
                with writer({db_path!r}) as conn:
                    conn.execute("CREATE TABLE notes AS SELECT 'held' AS note")
                    print("holding", flush=True)
                    time.sleep(4)
                """
            ),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        report = ingest(paths=newsroom["paths"], db=db_path)
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert report.new == 1
    assert _rows(db_path, "SELECT note FROM notes") == [("held",)]


# --- the summarize flow --------------------------------------------------------------------------


def _warehouse_with_one_article(db: str) -> None:
    from tasks.dedupe import fingerprints
    from tasks.load import write_batch
    from tests.documents import cleaned_document

    text = "Taliban fighters captured Zaranj, the capital of Nimroz province, on Friday. " * 8
    doc = cleaned_document("https://example.org/zaranj", text, source_name="t", title="Zaranj")
    write_batch(db, fetches=[doc.fetch], documents=[doc], prints=fingerprints([doc]))


def test_summarize_without_db_reads_the_warehouse_named_by_newsflow_db(
    prefect_harness, tmp_path, monkeypatch
):
    """A deployed summarize (no db parameter) reads the warehouse the worker's ingests write."""
    from flows.summarize import summarize

    db = str(tmp_path / "elsewhere.duckdb")
    _warehouse_with_one_article(db)
    monkeypatch.chdir(tmp_path)  # where the default warehouse/news.duckdb does not exist
    monkeypatch.setenv("NEWSFLOW_DB", db)
    report = summarize()
    assert (report.db, report.articles_read) == (db, 1)
    assert not (tmp_path / "warehouse").exists()


def test_summarize_refuses_a_start_after_its_end_before_reading_any_article(
    prefect_harness, db_path
):
    from flows.summarize import summarize

    _warehouse_with_one_article(db_path)
    with pytest.raises(ValueError, match="start 2021-08-16 is after end 2021-08-06; swap them"):
        summarize(start="2021-08-16", end="2021-08-06", db=db_path)
    assert summarize(db=db_path).articles_read == 1  # the refused run extracted nothing


def test_the_articles_a_run_loaded_are_its_own_not_another_runs(prefect_harness, db_path):
    """The end-of-run list (`newsflow ingest`) names the articles this run fetched: another run
    loading the same warehouse meanwhile adds articles first seen after this one started."""
    from datetime import UTC, datetime

    from flows.ingest import ingest
    from warehouse.queries import recent_articles

    started = datetime.now(UTC)
    samples = ROOT / "samples"
    other = ingest(paths=[str(samples / "2021-08-10_hindu-kush-herald_aybak.html")], db=db_path)
    this = ingest(paths=[str(samples / "2021-08-06_frontier-dispatch_zaranj.html")], db=db_path)
    assert (other.new, this.new) == (1, 1)
    assert len(recent_articles(db_path, started)) == 2
    [own] = recent_articles(db_path, started, run_id=this.run_id)
    assert "Zaranj" in own["title"]


def test_a_reclean_brings_the_thorough_reading_to_pages_ingested_fast(prefect_harness, db_path):
    """The Aybak sample ingested in the fast mode keeps its byline line; a reclean in the
    thorough mode reads the stored page again, without fetching or a sighting: a new version
    with the thorough text. A second reclean finds nothing changed, and takes a byline read
    better (here the stored one was spoilt by hand) without a version."""
    from flows import progress
    from flows.ingest import ingest
    from flows.reclean import reclean
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode
    from warehouse.integrity import check_warehouse

    page = ROOT / "samples" / "2021-08-10_hindu-kush-herald_aybak.html"
    thorough = clean_html(page.read_text(), page.as_uri(), mode=ExtractionMode.thorough)
    assert ingest(paths=[str(page)], db=db_path, extraction=ExtractionMode.fast).new == 1
    seen = "SELECT fetch_id, first_seen_at, last_seen_at FROM articles"
    [(fetch_id, *sighting)] = _rows(db_path, seen)

    events: list[tuple[str, int]] = []
    unsubscribe = progress.subscribe(lambda stage, count: events.append((stage, count)))
    try:
        report = reclean(db=db_path, extraction=ExtractionMode.thorough)
    finally:
        unsubscribe()
    assert (report.pages, report.updated, report.unchanged, report.new) == (1, 1, 0, 0)
    assert events == [("stored", 1), ("extracted", 1), ("loaded", 1)]  # the CLI's live counts
    assert _rows(db_path, seen) == [(fetch_id, *sighting)]
    with reader(db_path) as conn:
        text = conn.execute("SELECT text FROM articles WHERE version = 2").fetchone()
    assert text == (thorough.text,)
    assert _rows(db_path, "SELECT version, fetch_id FROM article_versions ORDER BY 1") == [
        (1, fetch_id),
        (2, fetch_id),
    ]
    assert _rows(db_path, "SELECT count(*) FROM fetches") == [(1,)]

    with writer(db_path) as conn:
        conn.execute("UPDATE articles SET author = 'By Hindu Kush Herald staff, updated'")
    again = reclean(db=db_path, extraction=ExtractionMode.thorough)
    assert (again.updated, again.unchanged) == (0, 1)
    assert _rows(db_path, "SELECT version, author FROM articles") == [(2, thorough.author)]
    [(source, fetched_at)] = _rows(db_path, "SELECT source_name, fetched_at FROM fetches")
    assert reclean(db=db_path, sources=[source], since=fetched_at).pages == 1
    with reader(db_path) as conn:  # --since: the pages fetched since then only
        later = fetched_at + timedelta(seconds=1)
        assert pages_to_reclean(conn, since=later) == []
        assert pages_to_reclean(conn, [source], since=fetched_at) == [(fetch_id, page.as_uri())]
    refused = f"no source named 'typo' in this warehouse; its sources: {re.escape(source)}$"
    with pytest.raises(ValueError, match=refused):
        reclean(db=db_path, sources=["typo"])  # not a run over no page
    assert check_warehouse(db_path) == []


def test_a_reclean_reads_a_google_news_sitemaps_entries_back(prefect_harness, site, db_path):
    """A page with neither headline nor stated time, listed by a Google News sitemap: its
    <news:title> and <news:publication_date> fill them, and are stored in feed_entries, so a
    reclean fills them again. Without them, the day its URL names (a guess) replaced the
    sitemap's time."""
    from flows.ingest import ingest
    from flows.reclean import reclean
    from tasks.settings import ExtractionMode

    body = " ".join(["Taliban fighters entered Zaranj, the capital of Nimroz province."] * 12)
    site.page("/2021/08/06/zaranj", f"<html><body><article><p>{body}</p></article></body></html>")
    page = site.url("/2021/08/06/zaranj")
    site.page(
        "/news.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{page}</loc><news:news><news:publication><news:name>Frontier Dispatch"
        "</news:name><news:language>en</news:language></news:publication>"
        "<news:publication_date>2021-08-06T16:40:00+04:30</news:publication_date>"
        "<news:title>Taliban take Zaranj</news:title></news:news></url></urlset>",
        "application/xml",
    )
    fast = ExtractionMode.fast
    report = ingest(sitemaps=[site.url("/news.xml")], db=db_path, allow_private_hosts=True,
                    extraction=fast)  # fmt: skip
    assert (report.new, report.feed_entries) == (1, 1)
    stated = datetime(2021, 8, 6, 12, 10, tzinfo=UTC)
    read = "SELECT version, title, published_at FROM articles"
    assert _rows(db_path, read) == [(1, "Taliban take Zaranj", stated)]
    assert reclean(db=db_path, extraction=fast).unchanged == 1
    assert _rows(db_path, read) == [(1, "Taliban take Zaranj", stated)]


def test_reclean_batches_never_hold_one_url_twice():
    """A URL fetched twice may stand for two articles (a redirect that moved): the load tells a
    batch's pages apart by URL, so the second fetch starts a batch of its own."""
    from flows.reclean import batches_of_distinct_urls

    pages = [(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "d"), (6, "e")]
    assert list(batches_of_distinct_urls(pages, 3)) == [
        [(1, "a"), (2, "b")],
        [(3, "a"), (4, "c"), (5, "d")],
        [(6, "e")],
    ]
    assert list(batches_of_distinct_urls([], 3)) == []


@pytest.mark.parametrize("batch_size", [10, 1], ids=["one-batch", "a-batch-each"])
def test_two_links_redirecting_to_one_page_are_one_article_repeated_not_unchanged(
    prefect_harness, site, corpus, db_path, tmp_path, batch_size
):
    """Both links are fetched (each final URL is known only once its redirect is): the second
    reaches an article this run loaded, which is `repeated`, not `unchanged` on a new warehouse,
    whether it is in the same batch or a later one."""
    from flows.ingest import ingest

    site.page("/news/bbc-1", _page(corpus, "bbc-1"))
    for n, link in enumerate(("/go/1", "/go/2")):  # a tracker's tag each: one article
        site.routes[link] = (302, {"Location": f"/news/bbc-1?utm_source=feed{n}"}, b"")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site.url('/go/1')}\n{site.url('/go/2')}\n")

    first = ingest(
        urls_files=[str(urls)], db=db_path, batch_size=batch_size, allow_private_hosts=True
    )
    assert (first.fetched, first.new, first.unchanged, first.repeated) == (2, 1, 0, 1)
    assert _rows(db_path, "SELECT count(*) FROM articles") == [(1,)]
    assert {"measure": "repeated", "value": 1} in first.rows()

    site.page("/news/bbc-1", _page(corpus, "bbc-1") + "<!-- a new ETag, the same text -->")
    second = ingest(
        urls_files=[str(urls)], db=db_path, batch_size=batch_size, allow_private_hosts=True
    )
    assert (second.new, second.unchanged, second.repeated) == (0, 1, 1)
