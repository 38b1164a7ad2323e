"""Fault injection: a hostile loopback web, malformed feeds, and input that must not hurt us."""

from __future__ import annotations

import gzip
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tasks import fetch
from tasks.extraction import clean_text_scrape, normalize_text
from tasks.fetch import fetch_pages, fetch_url
from tasks.records import Source, WorkItem
from tasks.settings import FetchSettings, load_settings
from tasks.sources import expand_sources
from tests.conftest import ROOT
from tests.faults import FaultServer, install_faults
from warehouse.db import reader

GOOD_PAGES = ["bbc-1", "cnn", "guardian-1"]
NODE = Path("feeds/node-feedparser/test/feeds")
# what a page of a host whose robots.txt says no, fails (500) or stalls is recorded as: a robots.txt
# that cannot be reached is a host down, not one forbidding its pages
ROBOTS_OUTCOMES = {"disallow": "robots", "error": "robots", "stall": "timeout"}
ROBOTS_MODES = tuple(ROBOTS_OUTCOMES)
MAX_RETRIES = 2
TOTAL_TIMEOUT = 2.0
BACKOFF_MAX = 2.5  # covers the 1-2 s Retry-After routes
# The worst a URL may take: every attempt to its total timeout, every backoff at its cap.
WORST_URL_SECONDS = (MAX_RETRIES + 1) * TOTAL_TIMEOUT + MAX_RETRIES * BACKOFF_MAX


def _corpus_page(corpus: Path, case: str) -> bytes:
    return gzip.decompress(
        (corpus / "extraction" / "readability" / "pages" / case / "source.html.gz").read_bytes()
    )


@pytest.fixture
def hostile_settings() -> FetchSettings:
    """Strict settings (private hosts refused) with short timeouts and few, fast retries."""
    return FetchSettings(
        allow_private_hosts=False,
        per_host_delay=0.0,
        per_host_concurrency=32,
        max_workers=40,
        backoff_base=0.05,
        backoff_max=BACKOFF_MAX,
        connect_timeout=1.0,
        read_timeout=1.2,
        total_timeout=TOTAL_TIMEOUT,
        max_bytes=3_000_000,
        max_retries=MAX_RETRIES,
    )


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1 play a public site so redirects to private addresses meet the real check.

    Only the IPv4 loopback address is reclassified; 10/8, 169.254/16 and ::1 stay private.
    """
    original = fetch.is_public_address
    monkeypatch.setattr(
        fetch, "is_public_address", lambda address: address == "127.0.0.1" or original(address)
    )
    monkeypatch.delenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", raising=False)


@pytest.fixture
def web(corpus: Path) -> Iterator[dict[str, FaultServer]]:
    """The fault server, three origins whose robots.txt misbehaves, real pages on the first."""
    servers = {"faults": FaultServer("absent")}
    servers |= {mode: FaultServer(mode) for mode in ROBOTS_MODES}
    for server in servers.values():
        server.page("/news/story", _corpus_page(corpus, "bbc-1"))
    for case in GOOD_PAGES:
        servers["faults"].page(f"/good/{case}", _corpus_page(corpus, case))
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def _batch(web: dict[str, FaultServer]) -> tuple[list[str], dict[str, str]]:
    """Every faulty URL, the robots origins' pages and good pages; url -> expected outcome."""
    expected = {web["faults"].url(p): o for p, o in install_faults(web["faults"]).items()}
    expected |= {web[mode].url("/news/story"): ROBOTS_OUTCOMES[mode] for mode in ROBOTS_MODES}
    expected |= {web["faults"].url(f"/good/{case}"): "ok" for case in GOOD_PAGES}
    return list(expected), expected


# --- the fetch stage over a hostile web --------------------------------------------------------


def test_every_fault_in_one_batch_is_recorded_bounded_and_spares_the_rest(
    web: dict[str, FaultServer], hostile_settings: FetchSettings, loopback_is_public: None
) -> None:
    urls, expected = _batch(web)
    started = time.monotonic()
    results = fetch_pages([WorkItem(url, "hostile") for url in urls], hostile_settings)
    wall = time.monotonic() - started

    assert {r.url: r.outcome for r in results} == expected
    for result in results:
        assert result.attempts <= MAX_RETRIES + 1, result.url
        assert result.elapsed_ms / 1000 <= WORST_URL_SECONDS + 0.5, result.url
        if not result.ok:
            assert result.error and result.html is None, result.url
    assert wall < WORST_URL_SECONDS + 2  # nothing waited on anything else
    faults = web["faults"]
    # transient faults are retried exactly max_retries times, permanent ones never, nor a body
    # too slow to arrive in the total timeout (/drip: it would be as slow again)
    for path in ("/down", "/reset", "/stall", "/lying-length"):
        assert faults.hits[path] == MAX_RETRIES + 1, path
    for path in (
        "/report.pdf", "/huge-with-length", "/truncated-gzip", "/to-private", "/empty", "/drip"
    ):  # fmt: skip
        assert faults.hits[path] == 1, path
    assert (faults.hits["/flaky"], faults.hits["/busy-seconds"], faults.hits["/busy-date"]) == (
        2,
        2,
        2,
    )
    by_path = {re.sub(r"^http://[^/]+", "", r.url): r for r in results}
    drip, stall = by_path["/drip"], by_path["/stall"]
    assert "total timeout" in (drip.error or "") and "read_timeout" in (stall.error or "")
    assert by_path["/busy-date"].elapsed_ms >= 900  # the HTTP-date Retry-After was honoured
    assert "truncated" in (by_path["/truncated-gzip"].error or "")
    assert "10.20.30.40" in (by_path["/to-private"].error or "")
    assert by_path["/wrong-charset"].encoding == by_path["/cp1252-no-charset"].encoding == "cp1252"
    assert "“quoted”" in (by_path["/wrong-charset"].html or "")
    for mode, needle in (("disallow", "disallowed"), ("error", "HTTP 500"), ("stall", "timeout")):
        story = next(r for r in results if r.url == web[mode].url("/news/story"))
        assert needle in (story.error or ""), (mode, story.error)
        assert web[mode].hits["/news/story"] == 0 and web[mode].hits["/robots.txt"] == 1


def test_redirects_to_private_addresses_refused_unless_allowed(
    web: dict[str, FaultServer], hostile_settings: FetchSettings, loopback_is_public: None
) -> None:
    faults = web["faults"]
    port = web["disallow"].server_address[1]
    faults.routes["/to-ipv6-loopback"] = lambda h: h.send(302, Location=f"http://[::1]:{port}/")
    faults.routes["/to-mapped"] = lambda h: h.send(302, Location="http://[::ffff:192.168.1.1]/")
    faults.routes["/to-zero"] = lambda h: h.send(302, Location=f"http://0.0.0.0:{port}/")
    for path in ("/to-ipv6-loopback", "/to-mapped", "/to-zero"):
        result = fetch_url(faults.url(path), hostile_settings)
        assert result.outcome == "private_host", (path, result.error)
        assert "allow_private_hosts" in (result.error or "")
    assert web["disallow"].hits["/robots.txt"] == 0  # refused before its robots.txt, too
    allowed = hostile_settings.model_copy(update={"allow_private_hosts": True})
    hop = fetch_url(faults.url("/to-zero"), allowed)
    assert hop.outcome == "robots"  # followed to 0.0.0.0 (this host), whose robots.txt said no
    assert web["disallow"].hits["/robots.txt"] == 1 and web["disallow"].hits["/"] == 0


# --- malformed feeds and sitemaps over HTTP ----------------------------------------------------


def _serve_feeds(corpus: Path, server: FaultServer) -> list[Source]:
    """The corpus edge cases served as feeds, plus an HTML page posing as a feed."""
    files = {
        "compressed.xml": "application/xml",  # gzip bytes named .xml
        "invalid-characters-gzipped.xml": "application/rss+xml",
        "saxerror.xml": "application/rss+xml",  # malformed XML
        "guid-dupes.xml": "application/rss+xml",
        "rss-with-relative-urls.xml": "application/rss+xml",
        "iconv.xml": "text/xml; charset=utf-8",  # not UTF-8 whatever the header says
    }
    for name, content_type in files.items():
        server.page(f"/feeds/{name}", (corpus / NODE / name).read_bytes(), content_type)
    server.page("/feeds/notafeed.html", (corpus / NODE / "notafeed.html").read_bytes())
    server.page("/feeds/page-as-rss", _corpus_page(corpus, "cnn"), "application/rss+xml")
    names = [*files, "notafeed.html", "page-as-rss"]
    return [
        Source(f"feed:{name}", "feed", server.url(f"/feeds/{name}"), {"limit": 2}) for name in names
    ]


def _serve_sitemaps(server: FaultServer) -> list[Source]:
    """A sitemap index that lists itself beside one real child, and a sitemap that is not one."""
    index, child = server.url("/sitemap-index.xml"), server.url("/sitemap-pages.xml")
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    server.page(
        "/sitemap-index.xml",
        f"<sitemapindex {ns}><sitemap><loc>{index}</loc></sitemap>"
        f"<sitemap><loc>{child}</loc></sitemap></sitemapindex>",
        "application/xml",
    )
    server.page(
        "/sitemap-pages.xml",
        f"<urlset {ns}><url><loc>{server.url('/good/guardian-1')}</loc></url></urlset>",
        "application/xml",
    )
    server.page("/sitemap-is-text.xml", b"# not a sitemap\nhello\n", "application/xml")
    return [
        Source("sitemap:self", "sitemap", index),
        Source("sitemap:not-xml", "sitemap", server.url("/sitemap-is-text.xml")),
    ]


def test_malformed_feeds_and_sitemaps_are_recorded_and_salvaged(
    corpus: Path, web: dict[str, FaultServer], hostile_settings: FetchSettings
) -> None:
    server = web["faults"]
    settings = hostile_settings.model_copy(update={"allow_private_hosts": True})
    sources = _serve_feeds(corpus, server) + _serve_sitemaps(server)
    found = expand_sources(sources, settings)
    outcome = {f.url.rsplit("/", 1)[1]: (f.outcome, f.error or "") for f in found.fetches}
    for name in ("compressed.xml", "invalid-characters-gzipped.xml", "guid-dupes.xml", "iconv.xml"):
        assert outcome[name][0] == "ok", (name, outcome[name])
    assert outcome["saxerror.xml"][0] == "ok" and "malformed feed" in outcome["saxerror.xml"][1]
    assert outcome["notafeed.html"][0] == "not_a_feed"
    assert outcome["page-as-rss"] == (
        "not_a_feed",
        f"{server.url('/feeds/page-as-rss')} is an HTML page, not a feed; use the page's "
        "RSS/Atom link or kind 'urls'",
    )
    assert outcome["sitemap-is-text.xml"] == (
        "not_a_sitemap",
        f"{server.url('/sitemap-is-text.xml')} holds no absolute http(s) URLs",
    )
    assert server.hits["/sitemap-index.xml"] == 1 and server.hits["/sitemap-pages.xml"] == 1
    per_feed = {}
    for entry in found.feed_entries:
        per_feed.setdefault(entry.feed_url.rsplit("/", 1)[1], []).append(entry)
    assert all(len(entries) <= 2 for entries in per_feed.values())  # the limit held
    relative = per_feed["rss-with-relative-urls.xml"]
    assert all(e.link and e.link.startswith("http") for e in relative)
    keys = [(e.feed_url, e.entry_key) for e in found.feed_entries]
    assert len(keys) == len(set(keys))
    assert server.url("/good/guardian-1") in {item.url for item in found.items}


# --- one ingest run over all of it -------------------------------------------------------------


HOSTILE_FETCHES = (
    "SELECT url, outcome FROM fetches WHERE source_name = 'hostile' AND url LIKE 'http:%'"
)


def _rows(db_path: str, query: str) -> list[tuple]:
    with reader(db_path) as conn:
        return conn.execute(query).fetchall()


def _sources_file(tmp_path: Path, urls: list[str], sources: list[Source]) -> Path:
    """A sources TOML: the hostile URL list, the feeds and sitemaps, the test's fetch settings."""
    (tmp_path / "hostile.txt").write_text("\n".join(urls) + "\n")
    lines = [
        "[settings]",
        "per_host_delay = 0.0",
        "per_host_concurrency = 32",
        "max_workers = 40",
        "backoff_base = 0.05",
        f"backoff_max = {BACKOFF_MAX}",
        "connect_timeout = 1.0",
        "read_timeout = 1.2",
        f"total_timeout = {TOTAL_TIMEOUT}",
        "max_bytes = 3000000",
        f"max_retries = {MAX_RETRIES}",
        "clean_workers = 1",
        "",
        '[[source]]\nname = "hostile"\nkind = "urls"\nlocation = "hostile.txt"\n',
    ]
    for source in sources:
        limit = source.options.get("limit")
        lines.append(
            f'[[source]]\nname = "{source.name}"\nkind = "{source.kind}"\n'
            f'location = "{source.location}"\n' + (f"limit = {limit}\n" if limit else "")
        )
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(lines))
    return path


def test_ingest_run_over_a_hostile_web_completes_and_records_every_reason(
    prefect_harness: None,
    corpus: Path,
    web: dict[str, FaultServer],
    loopback_is_public: None,
    db_path: str,
    tmp_path: Path,
) -> None:
    from flows.ingest import ingest
    from warehouse.integrity import check_warehouse

    urls, expected = _batch(web)
    feeds = _serve_feeds(corpus, web["faults"]) + _serve_sitemaps(web["faults"])
    started = time.monotonic()
    report = ingest(sources_file=str(_sources_file(tmp_path, urls, feeds)), db=db_path)
    assert time.monotonic() - started < 60

    recorded = dict(_rows(db_path, HOSTILE_FETCHES))
    assert recorded == expected
    unexplained = _rows(db_path, "SELECT url FROM fetches WHERE outcome <> 'ok' AND error IS NULL")
    assert unexplained == []
    assert _rows(db_path, "SELECT max(attempts) FROM fetches") == [(MAX_RETRIES + 1,)]
    articles = {url.rsplit("/", 1)[1] for (url,) in _rows(db_path, "SELECT url FROM articles")}
    assert {*GOOD_PAGES, "flaky", "busy-seconds", "busy-date", "wrong-charset"} <= articles
    rejected = dict(_rows(db_path, "SELECT regexp_extract(url, '[^/]+$'), reason FROM rejected"))
    assert rejected["cookie-wall"] == rejected["login-wall"] == "not_article"
    assert rejected["no-article"] == "too_short" and rejected["enormous-dom"] == "no_text"
    feed_rows = dict(
        _rows(
            db_path,
            "SELECT regexp_extract(url, '[^/]+$'), outcome FROM fetches "
            "WHERE source_name LIKE 'feed:%' OR source_name LIKE 'sitemap:%'",
        )  # fmt: skip
    )
    assert feed_rows["saxerror.xml"] == "ok" and feed_rows["page-as-rss"] == "not_a_feed"
    assert feed_rows["sitemap-index.xml"] == "ok"
    assert report.failed["robots"] >= 2 and report.new >= len(GOOD_PAGES) + 4
    assert check_warehouse(db_path) == []


# --- input safety ------------------------------------------------------------------------------


def test_private_hosts_are_allowed_only_explicitly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, web: dict[str, FaultServer]
) -> None:
    """Off by default; on by the sources file, by NEWSFLOW_ALLOW_PRIVATE_HOSTS=1 or by the flag."""
    monkeypatch.delenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", raising=False)
    story = web["faults"].url("/good/cnn")
    assert fetch_url(story, load_settings().fetch).outcome == "private_host"
    sources = tmp_path / "sources.toml"
    sources.write_text("[settings]\nallow_private_hosts = true\nper_host_delay = 0.0\n")
    assert fetch_url(story, load_settings(sources).fetch).ok
    assert load_settings(allow_private_hosts=True).fetch.allow_private_hosts  # the CLI flag
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "1")
    assert load_settings().fetch.allow_private_hosts
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "0")
    assert not load_settings().fetch.allow_private_hosts


_SQL_CALL = re.compile(r"\.(?:execute|sql|query)\(\s*f[\"']|\.execute\([^)]*(?:\+|%|\.format\()")


def test_no_sql_is_formatted_from_data() -> None:
    """SQL is run only under warehouse/, never formatted or concatenated, bar the extension LOAD."""
    offenders = []
    for path in [*ROOT.glob("tasks/*.py"), *ROOT.glob("flows/*.py"), *ROOT.glob("warehouse/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _SQL_CALL.search(line) and "LOAD '" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            if path.parent.name != "warehouse" and re.search(r"\.execute\(", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: SQL outside warehouse/")
    assert offenders == []


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("\u0958\ufb2c")  # NFC itself lengthens these (composition exclusions)
def test_normalize_text_is_idempotent_and_never_grows(text: str) -> None:
    """Never longer than its input's NFC form: canonical composition is not added text."""
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert len(once) <= len(unicodedata.normalize("NFC", text))


_SCRAPE_LINES = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "12 Aug, 2021 16:21",
                "READ MORE: Taliban take Herat",
                "icon bookmark-bicon bookmarkicon cameraicon shareicon",
                "Also on rt.com US embassy calls for evacuation",
                "Taliban claims capture of Ghazni, the tenth provincial capital",
                "\u200b\ufeff\u00ad \t\r\n\u2028",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(_SCRAPE_LINES)
def test_text_scrape_cleaner_never_raises_never_grows_and_is_idempotent(lines: list[str]) -> None:
    text = "\n".join(lines)
    doc = clean_text_scrape(text, "file:///scrapes/a.txt", "disk")
    kept = "\n".join(part for part in (doc.title, doc.text) if part)
    assert len(kept) <= len(unicodedata.normalize("NFC", text))
    again = clean_text_scrape(kept, "file:///scrapes/a.txt", "disk")
    assert (again.title, again.text) == (doc.title, doc.text)
