"""Sources become work items: feeds, sitemaps, URL lists and saved pages, parsed and expanded."""

from __future__ import annotations

import contextlib
import gzip
import html
import itertools
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prefect.states import Failed
from werkzeug import Response

from tasks import sources
from tasks.dedupe import url_key
from tasks.fetch import fetch_pages, fetch_url
from tasks.records import Source
from tasks.sources import (
    Discovery,
    SourceError,
    discover_files,
    discover_items,
    expand_sources,
    parse_feed,
    parse_sitemap,
    read_feed,
    read_sitemap,
    read_url_list,
    read_url_list_document,
    sources_from_cli,
)

NODE = Path("feeds/node-feedparser/test/feeds")
FEEDJIRA = Path("feeds/feedjira/spec/sample_feeds")
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def corpus_bytes(corpus: Path, relative: Path | str) -> bytes:
    return (corpus / relative).read_bytes()


def rss(items: list[dict[str, str]], channel_extra: str = "") -> bytes:
    """A small RSS 2.0 document; each item dict maps element name to text."""
    body = "".join(
        "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>" for item in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>http://example.org/</link>{channel_extra}{body}</channel></rss>"
    ).encode()


def urlset(entries: list[tuple[str, str | None]]) -> bytes:
    rows = "".join(
        f"<url><loc>{loc}</loc>" + (f"<lastmod>{mod}</lastmod>" if mod else "") + "</url>"
        for loc, mod in entries
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {SITEMAP_NS}>{rows}</urlset>'.encode()


def sitemap_index(children: list[str]) -> bytes:
    rows = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return f"<sitemapindex {SITEMAP_NS}>{rows}</sitemapindex>".encode()


# ---------------------------------------------------------------------------------------------
# Feeds from the shared corpus


def test_rss_news_feed_keeps_title_link_time_author(corpus):
    entries = parse_feed(
        corpus_bytes(corpus, NODE / "wapowellness.xml"), "http://feeds.washingtonpost.com/w", "wapo"
    )
    assert len(entries) == 29
    first = entries[0]
    assert first.title.startswith("Schools minister to")
    assert (
        first.link
        == "http://feeds.washingtonpost.com/click.phdo?i=cc0c5fb09865354bbec8415210a554da"
    )
    assert first.entry_key.endswith(
        "0ca90d46-e6eb-11e1-936a-b801f1abab19_story.html?wprss=rss_wellness"
    )
    assert first.author == "Lenny Bernstein"
    assert first.published_at == datetime(2012, 8, 21, 15, 33, tzinfo=UTC)
    assert first.summary and "<" not in first.summary
    assert {e.source_name for e in entries} == {"wapo"}
    assert {e.feed_url for e in entries} == {"http://feeds.washingtonpost.com/w"}


def test_atom_feed_times_are_utc_and_relative_links_resolve_against_feed_url(corpus):
    feed_url = "http://talkingpointsmemo.com/feed/all"
    for name in ("tpm.atom", "tpm-with-empty-base.atom", "tpm-with-fragment-base.atom"):
        entries = parse_feed(corpus_bytes(corpus, NODE / name), feed_url, "tpm")
        assert len(entries) == 20, name
        first = entries[0]
        assert first.entry_key == "tag:talkingpointsmemo.com,2005:ArticleDecorator/270060"
        assert first.link == (
            "http://talkingpointsmemo.com/livewire/"
            "hannity-announces-fox-hired-sebastian-gorka-national-security-strategist"
        ), name
        # <published>2017-11-08T18:15:58-05:00</published>
        assert first.published_at == datetime(2017, 11, 8, 23, 15, 58, tzinfo=UTC)
        assert first.published_at.tzinfo == UTC
        assert first.author == "Esme Cribb"


def test_rss_relative_links_and_item_scoped_xml_base(corpus):
    entries = parse_feed(
        corpus_bytes(corpus, NODE / "rss-with-relative-urls.xml"),
        "http://www.arcgames.com/en/games/neverwinter/news/rss",
        "arc",
    )
    assert [e.link.split("/detail/")[0] for e in entries] == [
        "http://www.arcgames.com/en/games/neverwinter/news"
    ] * 2
    scoped = parse_feed(
        corpus_bytes(corpus, NODE / "rss-with-item-scoped-html-base.xml"),
        "https://feeds.example.com/dir/feed.xml",
        "scoped",
    )
    assert [e.link for e in scoped] == [
        "https://example.com/first/first",  # the item's own xml:base wins
        "https://feeds.example.com/dir/second",  # otherwise the feed URL
    ]


def test_feed_titles_and_summaries_are_plain_text(corpus):
    """Markup in an HTML or XHTML title and entities a feed escaped twice were kept as they were:
    `<b>Slack</b> Stock Has …`, `&ldquo;Tell, Don&rsquo;t Ask&rdquo;`, `&#40;видео&#41;`."""
    alerts = parse_feed(
        corpus_bytes(corpus, FEEDJIRA / "google_alerts_atom.xml"), "http://g/f", "g"
    )
    assert alerts[1].title == "Slack Stock Has a Compelling Story and the Numbers to Back It Up"
    assert not any("<" in (e.title or "") + (e.summary or "") for e in alerts)
    pets = parse_feed(corpus_bytes(corpus, FEEDJIRA / "pet_atom.xml"), "http://p/f", "p")
    assert pets[0].title == "Sentry Calming Collar for dogs"  # an XHTML title
    robots = FEEDJIRA / "GiantRobotsSmashingIntoOtherGiantRobots.xml"
    plain = parse_feed(corpus_bytes(corpus, robots), "http://r/f", "r")  # a text summary
    assert plain[0].summary == "Write declarative Elixir code by applying “Tell, Don’t Ask”."
    oren = parse_feed(corpus_bytes(corpus, NODE / "iconv.xml"), "http://www.oren.ru/rss.xml", "o")
    assert oren[1].summary == "Из-за чего теперь на них возбуждено уголовное дело (видео)"


def test_feed_authors_are_names_without_their_addresses(corpus):
    """feedparser's `author` joins the first author's address to the name: RSS asks for
    "mattt@nshipster.com (Mattt Thompson)", an Atom author with an <email> reads the same."""
    for path, name in [
        (NODE / "invalid-characters-gzipped.xml", "Mattt Thompson"),
        (FEEDJIRA / "a10.xml", "John Doe"),  # Atom <name> and <email>
        (NODE / "rss2sample.xml", "Writer"),
    ]:
        assert parse_feed(corpus_bytes(corpus, path), "http://f/f", "f")[0].author == name, path
    two = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><id>k</id>'
        "<title>Kabul</title><link href='http://n.example/k'/><author><name>A. Writer</name>"
        "<email>a@n.example</email></author><author><name>B. Reporter</name></author>"
        "</entry></feed>"
    )
    assert parse_feed(two.encode(), "http://n.example/f", "n")[0].author == "A. Writer; B. Reporter"


def test_feed_links_lead_to_the_article_not_to_a_redirect(corpus):
    """A FeedBurner entry's link is a feedproxy redirect and its <feedburner:origLink> the
    publisher's URL; a Google Alerts link wraps the article in google.com/url?…&url=…. Pages
    are fetched and deduplicated by the article's own address; the entry keeps its key."""
    dix = parse_feed(
        corpus_bytes(corpus, FEEDJIRA / "PaulDixExplainsNothing.xml"), "http://d/f", "d"
    )
    assert dix[0].link == "http://www.pauldix.net/2009/01/making-a-ruby-c-library-even-faster.html"
    assert dix[0].entry_key == "tag:typepad.com,2003:post-61753462"
    alerts = parse_feed(
        corpus_bytes(corpus, FEEDJIRA / "google_alerts_atom.xml"), "http://g/f", "g"
    )
    assert alerts[1].link == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"
    assert not any("google.com" in e.link for e in alerts)
    assert alerts[1].entry_key.startswith("tag:google.com,2013:googlealerts/feed:")


@pytest.mark.parametrize(
    ("link", "article"),
    [
        (
            "https://www.google.com/url?rct=j&url=https://a.example/x%3Fy%3D1&ct=ga",
            "https://a.example/x?y=1",
        ),
        ("https://google.com/url?q=http://a.example/kabul", "http://a.example/kabul"),
        (
            "https://www.google.com/url?url=javascript:alert(1)",
            "https://www.google.com/url?url=javascript:alert(1)",
        ),
        (
            "https://www.google.com/search?url=https://a.example/",
            "https://www.google.com/search?url=https://a.example/",
        ),
        (
            "https://news.example/url?url=https://a.example/",
            "https://news.example/url?url=https://a.example/",
        ),
    ],
)
def test_a_google_redirect_link_is_read_as_the_article_it_leads_to(link, article):
    body = rss([{"guid": "g-1", "title": "Kabul", "link": html.escape(link, quote=False)}])
    assert [e.link for e in parse_feed(body, "http://feeds.example/f", "g")] == [article]


def test_feed_read_from_disk_resolves_links_against_its_self_link(corpus):
    path = corpus / NODE / "rss-with-relative-urls-with-absolute-xmlurl.xml"
    entries = parse_feed(path.read_bytes(), path.as_uri(), "saved")
    assert entries[0].link.startswith("http://www.arcgames.com/en/games/neverwinter/news/detail/")
    relative_self = corpus / NODE / "rss-with-relative-urls.xml"  # self link relative: no base
    assert all(e.link is None for e in parse_feed(relative_self.read_bytes(), "", "saved"))


def test_json_feeds_are_parsed_without_feedparser(corpus):
    entries = parse_feed(
        corpus_bytes(corpus, FEEDJIRA / "json_feed.json"), "http://inessential.com/feed.json", "j"
    )
    assert len(entries) == 20
    first = entries[0]
    assert first.title == "James Dempsey and the Breakpoints Benefit App Camp for Girls"
    assert (
        first.link == "http://inessential.com/2017/06/02/james_dempsey_and_the_breakpoints_benefi"
    )
    assert first.entry_key == first.link
    assert first.author == "Brent Simmons"  # from the feed-level author
    assert first.published_at is not None and first.published_at.tzinfo == UTC
    assert first.summary.startswith("On Wednesday night I know where I’ll be")
    v11 = parse_feed(
        corpus_bytes(corpus, FEEDJIRA / "json_feed_with_escaped_uris.json"),
        "https://lukedorny.com/feed",
        "j11",
    )
    assert len(v11) == 30
    assert v11[0].link == "https://lukedorny.com/updates/new-font"
    assert v11[0].summary == "A Journey with links"


def test_gzip_bytes_named_xml_and_non_utf8_encoding(corpus):
    compressed = corpus_bytes(corpus, NODE / "compressed.xml")
    assert compressed[:2] == b"\x1f\x8b"
    zipped = parse_feed(compressed, "http://www.oren.ru/rss.xml", "oren")
    plain = parse_feed(
        corpus_bytes(corpus, NODE / "iconv.xml"), "http://www.oren.ru/rss.xml", "oren"
    )
    assert len(plain) == 10
    assert [e.title for e in zipped] == [e.title for e in plain]
    assert plain[0].title.startswith("В Бузулуке главные стройплощадки")  # windows-1251 source
    assert plain[0].published_at == datetime(2014, 1, 22, 14, 31, 31, tzinfo=UTC)


def test_malformed_feed_keeps_recovered_entries_and_names_the_problem(corpus):
    parsed = read_feed(corpus_bytes(corpus, NODE / "saxerror.xml"), "http://example.com/f", "sax")
    assert [e.link for e in parsed.entries][:2] == [
        "http://example.com/good",
        "http://example.com/bad?foo=1&bar=2",
    ]
    assert parsed.problem and "not well-formed" in parsed.problem
    clean = read_feed(corpus_bytes(corpus, NODE / "rss2sample.xml"), "http://example.com/f", "s")
    assert clean.problem is None and len(clean.entries) == 4


def test_duplicate_guids_collapse_to_one_entry(corpus):
    entries = parse_feed(corpus_bytes(corpus, NODE / "guid-dupes.xml"), "http://b.com/f", "b")
    assert [e.entry_key for e in entries] == ["http://www.braingle.com/50366.html"]
    twice = rss(
        [
            {"guid": "urn:g-1", "title": "First telling", "link": "http://example.org/a"},
            {"guid": "urn:g-1", "title": "Second telling", "link": "http://example.org/a?x"},
            {"guid": "urn:g-2", "title": "Other", "link": "http://example.org/b"},
        ]
    )
    entries = parse_feed(twice, "http://example.org/feed", "s")
    assert [(e.entry_key, e.title) for e in entries] == [
        ("urn:g-1", "First telling"),
        ("urn:g-2", "Other"),
    ]


def test_html_page_is_not_a_feed(corpus):
    with pytest.raises(SourceError, match="is an HTML page, not a feed") as caught:
        parse_feed(corpus_bytes(corpus, NODE / "notafeed.html"), "http://example.com/", "s")
    assert caught.value.kind == "not_a_feed"


def test_a_sitemap_given_as_a_feed_says_to_use_kind_sitemap():
    with pytest.raises(SourceError) as caught:
        parse_feed(urlset([("https://n.org/a", "2021-08-15")]), "https://n.org/sitemap.xml", "s")
    assert (caught.value.kind, str(caught.value)) == (
        "not_a_feed",
        "https://n.org/sitemap.xml is a sitemap, not a feed; use kind 'sitemap' (--sitemap)",
    )


def test_empty_shells_of_illegally_nested_items_are_dropped(corpus):
    entries = parse_feed(
        corpus_bytes(corpus, NODE / "illegally-nested.xml"), "http://pcmag.com/f", "pc"
    )
    assert len(entries) == 10
    assert all(e.link and e.title for e in entries)


def test_tag_uri_link_is_kept_off_the_work_list(corpus):
    (entry,) = parse_feed(
        corpus_bytes(corpus, NODE / "atom-with-tag-uri-links.xml"), "http://e.com/f", "s"
    )
    assert entry.link is None
    assert entry.entry_key == "tag:mefi.social,2024-01-26:objectId=20368395"


# ---------------------------------------------------------------------------------------------
# Feeds: synthetic edge cases


def test_entry_key_falls_back_to_link_then_a_hash_of_title_and_summary():
    body = rss(
        [
            {"title": "Linked", "link": "/news/1"},
            {"title": "No link", "description": "Only words"},
            {"title": "No link", "description": "Only words"},
        ]
    )
    entries = parse_feed(body, "https://news.example.org/rss.xml", "s")
    assert entries[0].entry_key == "https://news.example.org/news/1"
    assert entries[1].entry_key.startswith("sha1:") and len(entries) == 2
    assert entries[1].link is None and entries[1].summary == "Only words"


def test_not_feeds_and_broken_documents_raise_with_their_kind():
    cases = [
        (b"", "parse_error", "is empty"),
        (b'{"hello": "world"}', "not_a_feed", "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": ', "parse_error", "valid JSON"),
        (b"<catalog><book/></catalog>", "not_a_feed", "not an RSS, Atom or JSON feed"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 20, "parse_error", "corrupt"),
        (gzip.compress(rss([]))[:30], "parse_error", "gzip data is truncated"),
        (b"<rss version='2.0'><channel><item><title>x</ti", "parse_error", "could not be parsed"),
    ]
    for body, kind, message in cases:
        with pytest.raises(SourceError, match=message) as caught:
            parse_feed(body, "http://example.org/feed", "s")
        assert caught.value.kind == kind, body


@pytest.mark.parametrize(
    ("description", "summary"),
    [
        ("<![CDATA[<html><head><title>Two</title></head></html>]]>", "Two"),
        ("<![CDATA[<html></html>]]>", None),
        ("<![CDATA[<html/>]]>", None),
        ("<![CDATA[<!DOCTYPE html>]]>", None),
        (
            "<![CDATA[<html><head><style>p {}</style><title>A &amp; B</title></head></html>]]>",
            "A & B",
        ),
    ],
)
def test_a_whole_html_document_as_a_description_is_read_as_text(description, summary):
    body = rss([{"guid": "g", "title": "One", "description": description}])
    (entry,) = parse_feed(body, "http://example.org/feed", "s")
    assert (entry.title, entry.summary) == ("One", summary)


def test_json_feed_fields_of_the_wrong_type_are_ignored(tmp_path):
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "feed_url": 5,
        "home_page_url": ["x"],
        "authors": 5,
        "items": [{"id": "a", "url": "https://n.org/a", "title": "A"}, {"id": "b", "url": "/b"}],
    }
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed))
    entries = read_feed(path.read_bytes(), path.as_uri(), "s").entries
    assert [(e.link, e.title, e.author) for e in entries] == [
        ("https://n.org/a", "A", None),
        (None, None, None),  # a relative link with no http(s) base to resolve it against
    ]


def test_empty_but_valid_feed_has_no_entries():
    assert parse_feed(rss([]), "http://example.org/feed", "s") == []


def test_json_feed_11_authors_and_dates_with_offsets():
    item = {
        "id": 7,
        "url": "story/7",
        "title": "Kabul",
        "content_html": "<p>Taliban <b>enter</b></p>",
        "date_published": "2021-08-15T14:30:00+04:30",
        "authors": [{"name": "A"}, {"name": "B"}],
    }
    body = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "K", "items": [item]}
    ).encode()
    (entry,) = parse_feed(body, "https://news.example.org/feeds/feed.json", "k")
    assert entry.entry_key == "7"
    assert entry.link == "https://news.example.org/feeds/story/7"
    assert entry.summary == "Taliban enter"
    assert entry.published_at == datetime(2021, 8, 15, 10, 0, tzinfo=UTC)
    assert entry.author == "A; B"  # as an article's byline has its names


# ---------------------------------------------------------------------------------------------
# Sitemaps and URL lists


def test_urlset_with_lastmod_in_every_w3c_precision():
    body = urlset(
        [
            ("https://n.org/a", "2021-08-12"),
            ("https://n.org/b", "2021-08-13T10:30:00+04:30"),
            ("https://n.org/c", "2021-08"),
            ("https://n.org/d", "not a date"),
            ("https://n.org/e", None),
            ("ftp://n.org/f", None),
        ]
    )
    pages, children = parse_sitemap(body, "https://n.org/sitemap.xml")
    assert children == []
    assert pages == [
        ("https://n.org/a", datetime(2021, 8, 12, tzinfo=UTC)),
        ("https://n.org/b", datetime(2021, 8, 13, 6, 0, tzinfo=UTC)),
        ("https://n.org/c", datetime(2021, 8, 1, tzinfo=UTC)),
        ("https://n.org/d", None),
        ("https://n.org/e", None),
    ]


def test_a_gzipped_sitemap_that_cannot_be_read_says_why(monkeypatch):
    """The whole wording of gzip bytes refused as corrupt, too large once decompressed, or cut."""
    monkeypatch.setattr(sources, "MAX_UNCOMPRESSED_BYTES", 100)
    url = "https://n.org/s.xml.gz"
    cases = [
        (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 20,
            "parse_error",
            f"{url}: gzip data is corrupt (Error -3 while decompressing data: invalid block type)",
        ),
        (
            gzip.compress(b"<urlset>" + b" " * 200 + b"</urlset>"),
            "too_large",
            f"{url}: more than 100 bytes once decompressed",
        ),
        (gzip.compress(urlset([]))[:-12], "parse_error", f"{url}: gzip data is truncated"),
    ]
    for body, kind, message in cases:
        with pytest.raises(SourceError) as refused:
            read_sitemap(body, url)
        assert (refused.value.kind, str(refused.value)) == (kind, message)


def test_sitemap_index_gzip_and_text_sitemaps():
    index = sitemap_index(["https://n.org/s1.xml.gz", "https://n.org/s2.txt"])
    assert parse_sitemap(index, "https://n.org/index.xml") == (
        [],
        ["https://n.org/s1.xml.gz", "https://n.org/s2.txt"],
    )
    body = urlset([("https://n.org/a", "2021-08-12")])
    assert parse_sitemap(gzip.compress(body), "https://n.org/s1.xml.gz") == parse_sitemap(
        body, "https://n.org/s1.xml"
    )
    # `cat a.gz b.gz` is one gzip file of two members (RFC 1952): both halves are read.
    head, tail = b"https://n.org/x\n", b"https://n.org/y\n"
    two_members = gzip.compress(head) + gzip.compress(tail)
    assert parse_sitemap(two_members, "https://n.org/s.txt.gz")[0] == [
        ("https://n.org/x", None),
        ("https://n.org/y", None),
    ]
    text = b"https://n.org/x\n\nhttps://n.org/y\n"
    assert parse_sitemap(text, "https://n.org/s2.txt") == (
        [("https://n.org/x", None), ("https://n.org/y", None)],
        [],
    )


def test_sitemap_errors_name_the_problem():
    cases = [
        (b"<html><body>hi</body></html>", "not_a_sitemap", "root <html>"),
        (rss([]), "not_a_sitemap", "use kind 'feed'"),
        (b"just words here", "not_a_sitemap", "no absolute http"),
        (b"  ", "parse_error", "is empty"),
    ]
    for body, kind, message in cases:
        with pytest.raises(SourceError, match=message) as caught:
            parse_sitemap(body, "https://n.org/s")
        assert caught.value.kind == kind


def test_malformed_sitemap_keeps_what_it_can_and_says_so():
    body = b"<urlset><url><loc>https://n.org/ok</loc></url><url><loc>https://n.org/?a=1&b</loc>"
    parsed = read_sitemap(body, "https://n.org/s")
    assert parsed.pages[0] == ("https://n.org/ok", None)
    assert parsed.problem and "malformed XML" in parsed.problem


def test_url_list_skips_comments_blanks_duplicates_and_junk():
    text = (
        "\ufeff# analyst picks\n"
        "https://a.org/1   # the first one\n"
        "\n"
        "https://a.org/1\n"
        "/relative/2\n"
        "not a url\n"
        "ftp://a.org/3\n"
        "  https://b.org/4\t\n"
    )
    assert read_url_list(text) == ["https://a.org/1", "https://b.org/4"]
    assert read_url_list(text, "https://lists.org/dir/picks.txt") == [
        "https://a.org/1",
        "https://lists.org/relative/2",
        "https://b.org/4",
    ]


def test_a_spreadsheets_table_is_read_by_its_url_column(caplog):
    """A CSV export with the URL in a later column was refused (`no_urls`); with the URL first,
    its `,title` was fetched as part of the URL."""
    comma = (
        "title,URL,published\n"
        '"Kunduz, Taloqan fall",https://a.org/1,2021-08-08\n'
        "# a comment line, as in any list\n"
        "No link yet,,2021-08-09\n"
        "Zaranj,https://a.org/2,2021-08-06\n"
    )
    assert read_url_list(comma, name="URL list t.csv") == ["https://a.org/1", "https://a.org/2"]
    assert "URL list t.csv line 4 skipped: its URL column is empty" in caplog.text
    semicolon = "\ufeffurl;title\nhttps://a.org/1;One\n/2;Two\n"
    assert read_url_list(semicolon, "https://a.org/list.csv") == [
        "https://a.org/1", "https://a.org/2"
    ]  # fmt: skip
    assert read_url_list("Link\tTitle\nhttps://a.org/1?a=1,2\tOne\n") == ["https://a.org/1?a=1,2"]
    assert read_url_list("url\nhttps://a.org/1,2\n") == ["https://a.org/1,2"]  # a column alone
    excel = 'sep=;\r\nHeadline;Article URL;Link text\r\n"Kabul; falls";https://a.org/9;more\r\n'
    assert read_url_list(excel) == ["https://a.org/9"]  # Excel's sep= line; a column's words
    assert read_url_list("sep=\t\npageUrl\ttitle\nhttps://a.org/8\tT\n") == ["https://a.org/8"]
    assert read_url_list("sep=;;;\nurl;title\nhttps://a.org/7;T\n") == ["https://a.org/7"]


def test_a_tables_quoted_cells_may_span_lines_and_begin_with_a_hash(caplog):
    """Read line by line, a quoted cell's line that began with # was taken for a comment: the
    reader stayed inside the quotes to the end, and the table had no URL (`no_urls`). A
    warning's line number now counts the lines of the cells above it."""
    table = (
        "\ufefftitle,url,notes\r\n"
        '"Tagged story\r\n#breaking",https://a.org/1,x\r\n'
        '"A cell with a blank line\r\n\r\nin it",https://a.org/2,y\r\n'
        "# a comment row\r\n"
        "Bad,not-a-url,z\r\n"
    )
    assert read_url_list(table, name="t.csv") == ["https://a.org/1", "https://a.org/2"]
    assert "t.csv line 8 skipped: 'not-a-url' (its url column) is not an http(s) URL" in (
        caplog.text
    )
    # a quoted first cell that begins with # is data; a comment's quote opens no cell; a form
    # feed in a cell is not a line break; a lone column's cell comes out of its quotes
    quirks = (
        'title,url\n"#1 story",https://a.org/3\n# a,"unbalanced\n"a\x0cb",https://a.org/4\nC,bad\n'
    )
    assert read_url_list(quirks, name="q.csv") == ["https://a.org/3", "https://a.org/4"]
    assert "q.csv line 5 skipped: 'bad'" in caplog.text
    assert read_url_list('url\n"https://a.org/5?x=1,2"\n') == ["https://a.org/5?x=1,2"]
    assert read_url_list_document("sep=;\n", None, "s.csv") == []  # Excel's line alone: empty
    assert read_url_list("https://a.org/1\nurl,title\n") == ["https://a.org/1"]  # a plain list
    assert read_url_list_document("url,title\n", None, "t.csv") == []  # a header alone: empty
    huge = "x" * 200_000  # over the csv module's cell limit (128 kB)
    with pytest.raises(SourceError, match=r"^t.csv: its table cannot be read past line 3: field"):
        read_url_list(f'url,title\nhttps://a.org/1,One\nhttps://a.org/2,"{huge}"\n', name="t.csv")
    with pytest.raises(SourceError, match=r"t.csv: none of its 1 rows has an http\(s\) URL in its "
                       r"'url' column \(first: 'https ://a.org/1'\)"):  # fmt: skip
        read_url_list_document("url;title\nhttps ://a.org/1;One\n", None, "t.csv")
    with pytest.raises(SourceError, match=r"n.txt: none of its 2 lines is an http\(s\) URL"):
        read_url_list_document("the list\nto come\n", None, "n.txt")


def test_a_tables_url_column_is_chosen_by_name_and_a_choice_among_several_is_a_warning(caplog):
    """With two columns that could hold the URL, the first was read without a word; a Screaming
    Frog export's `Address` column was not a URL column, nor a header whose first column is
    `#` (a row number), which read as a comment."""
    two = "Image URL,Article URL,title\nhttps://i.org/1.jpg,https://a.org/1,One\n"
    assert read_url_list(two, name="t.csv") == ["https://i.org/1.jpg"]
    assert (
        "t.csv: reading its 'Image URL' column, of 2 that could hold the URL "
        "('Image URL', 'Article URL'); to read another, make it the only column named url"
    ) in caplog.text
    caplog.clear()
    renamed = "Image URL,url,title\nhttps://i.org/1.jpg,https://a.org/1,One\n"
    assert read_url_list(renamed, name="t.csv") == ["https://a.org/1"]  # as the warning says
    frog = '"Address","Content Type","Status Code"\n"https://a.org/2","text/html","200"\n'
    assert read_url_list(frog) == ["https://a.org/2"]
    assert read_url_list("address,url\nKabul,https://a.org/3\n") == ["https://a.org/3"]
    numbered = "#,title,url\n1,Kunduz,https://a.org/4\n# a comment\n2,Zaranj,https://a.org/5\n"
    assert read_url_list(numbered) == ["https://a.org/4", "https://a.org/5"]
    assert read_url_list('sep=;\n"#";url\n1;https://a.org/6\n') == ["https://a.org/6"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # a comment above a plain list is still a comment, though it has a comma and the word url
    assert read_url_list("# url, one a line\nhttps://a.org/7\n") == ["https://a.org/7"]


def test_a_list_is_not_misread_as_a_table_nor_a_tables_url_cut_without_a_word(caplog):
    """QA found lists misread with no warning: a title line with a comma and the word URLs read
    as a header, cutting each URL at its first comma; a first /path taken for a header; a row
    wider than its header cutting its URL; a `#` header's first row with the word URL in it
    taken for the header; a comment between a `#` header and its rows; a quote left open
    joining two URLs into one."""
    gazeta = "https://wiadomosci.gazeta.pl/wiadomosci/7,114881,27451048,taliban.html"
    assert read_url_list(f"Saved URLs, March 2024\n{gazeta}\n", name="t.txt") == [gazeta]
    assert "t.txt line 1 skipped: 'Saved URLs, March 2024' is not an http(s) URL" in caplog.text
    paths = "/tech/what-is-a-url.html\n/news/7,114881,2.html\n"
    assert read_url_list(paths, "https://s.org/list.txt") == [
        "https://s.org/tech/what-is-a-url.html", "https://s.org/news/7,114881,2.html"
    ]  # fmt: skip
    caplog.clear()
    assert read_url_list(f"url,title\n{gazeta},Taliban\nhttps://a.org/2,Two\n", name="w.csv") == [
        "https://wiadomosci.gazeta.pl/wiadomosci/7", "https://a.org/2"
    ]  # fmt: skip
    assert (
        "w.csv line 2: a row with more cells than its header (1 such rows): a URL that holds "
        "',' is cut there unless quoted"
    ) in caplog.text
    numbered = "#,title,url\n1,What is a URL?,https://a.org/1\n# a comment\n2,B,https://a.org/2\n"
    assert read_url_list(numbered) == ["https://a.org/1", "https://a.org/2"]
    assert read_url_list("#,title,url\n# c\n1,Foo,https://a.org/3\n") == ["https://a.org/3"]
    assert read_url_list("#, urls below\nhttps://a.org/4\n") == ["https://a.org/4"]  # a comment
    caplog.clear()
    assert read_url_list('URL\n"https://a.org/open\nhttps://a.org/after\n', name="q.csv") == []
    assert "q.csv line 2 skipped: its URL column runs over several lines (a quote left open?)" in (
        caplog.text
    )
    caplog.clear()
    frog = '"Internal - All"\n"Address","Status Code"\n"https://a.org/5","200"\n'
    assert read_url_list(frog, name="f.csv") == ["https://a.org/5"]
    assert "f.csv line 1 skipped: '\"Internal - All\"' is a title above its table's header" in (
        caplog.text
    )
    caplog.clear()
    assert read_url_list("https://a.org/7, Kabul falls\n", name="h.csv") == []
    assert (
        "h.csv line 1 skipped: 'https://a.org/7, Kabul falls' is not an http(s) URL; a table's "
        "rows are read by its URL column when a header line names it"
    ) in caplog.text
    street = "name,address,Article URL\nAnna,1 Main St,https://a.org/6\n"
    assert read_url_list(street) == ["https://a.org/6"]  # the column that holds URLs


def test_a_tables_urls_in_a_column_not_named_for_them_are_read_with_a_warning(caplog):
    """`name,address,website`: the only column named for URLs (address) held street addresses,
    and the list was refused as holding no URL, though its website column held them all."""
    sites = "name,address,website\nAnna,1 Main St,https://a.org/1\nBob,2 High St,https://a.org/2\n"
    assert read_url_list(sites, name="s.csv") == ["https://a.org/1", "https://a.org/2"]
    assert (
        "s.csv: reading its 'website' column, the first that holds URLs (none in 'address', "
        "named as a URL column)"
    ) in caplog.text
    caplog.clear()
    assert read_url_list("name,address,website\nAnna,1 Main St,\n", name="e.csv") == []
    assert "e.csv line 2 skipped: '1 Main St' (its address column) is not an http(s) URL" in (
        caplog.text
    )  # no column holds one: the one named for them is read, and its cells are the warnings


def test_a_list_misread_silently_before_is_read_or_warned_about(caplog):
    """QA: a quote left open in a title cell took the rows below into it, their URLs lost
    without a word; a title with the word URLs above the header was read as a one-column
    header, and each row fetched whole (`…/bbc-1.html,200`); a sheet's empty second column
    (`URL,`) was fetched with its comma."""
    left_open = 'url,title\nhttps://a.org/1,"oops\nhttps://a.org/2,x\nhttps://a.org/3,y\n'
    assert read_url_list(left_open, name="o.csv") == ["https://a.org/1"]
    assert (
        "o.csv line 2: its 'title' cell runs over lines 2-4, 2 of them with a URL (a quote left "
        "open?): their URLs are not read"
    ) in caplog.text
    caplog.clear()
    notes = 'url,notes\nhttps://a.org/1,"line one\nline two"\nhttps://a.org/2,y\n'
    assert read_url_list(notes) == ["https://a.org/1", "https://a.org/2"]
    assert "quote left open" not in caplog.text  # a cell over lines with no URL is a cell
    titled = "Export of URLs\nAddress,Status\nhttps://a.org/4,200\nhttps://a.org/5,200\n"
    assert read_url_list(titled, name="t.csv") == ["https://a.org/4", "https://a.org/5"]
    assert "t.csv line 1 skipped: 'Export of URLs' is a title above its table's header" in (
        caplog.text
    )
    assert read_url_list("URLs\nhttps://a.org/6\n") == ["https://a.org/6"]  # a header still
    assert read_url_list("https://a.org/7,\nhttps://a.org/8;\n") == [
        "https://a.org/7", "https://a.org/8"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            "<url><loc>https://a.org/1</loc></url></urlset>",
            "XML (a sitemap or feed?)",
        ),
        (
            '<rss version="2.0"><channel><item><link>https://a.org/1</link></item></channel></rss>',
            "XML (a sitemap or feed?)",
        ),  # fmt: skip
        ('[{"url": "https://a.org/1"}, {"url": "https://a.org/2"}]', "JSON"),
    ],
    ids=["sitemap", "rss", "json"],
)
def test_a_sitemap_feed_or_json_given_as_a_url_list_is_refused(text, what):
    """On one line, as many sites write them, a sitemap (or JSON records) read as a list's
    header alone: an empty list, exit 0, nothing fetched and nothing said (QA)."""
    with pytest.raises(SourceError) as refused:
        read_url_list_document(text, None, "l.txt")
    assert refused.value.kind == "not_a_url_list"
    assert str(refused.value) == (
        f"l.txt is {what}, not a URL list (one URL a line); pass a sitemap with --sitemap (kind "
        '"sitemap"), a feed with --feed (kind "feed")'
    )
    assert read_url_list_document("[Kabul](https://a.org/1)\nhttps://a.org/2\n", None, "m") == [
        "https://a.org/2"
    ]  # a line that only begins as JSON does is a list's line


def test_a_url_urllib_cannot_take_apart_is_skipped_not_the_whole_list():
    """A URL list or sitemap holding "http://[::1/x" (an unclosed IPv6 literal), which urllib
    refuses with ValueError, failed whole as internal_error, every good URL in it lost."""
    broken = ["http://[::1/x", "//[::1/y"]  # the second, relative, breaks urljoin
    lines = [*broken, "https://n.org/ok"]
    assert read_url_list("\n".join(lines), "https://n.org/list.txt") == ["https://n.org/ok"]
    sitemap = "<urlset>" + "".join(f"<url><loc>{url}</loc></url>" for url in lines) + "</urlset>"
    assert read_sitemap(sitemap.encode(), "https://n.org/s").pages == [("https://n.org/ok", None)]


# ---------------------------------------------------------------------------------------------
# Saved pages on disk


def test_discover_files_finds_pages_recursively_sorted_as_file_uris(tmp_path: Path):
    names = ["b.html", "a.htm", "sub/c.html.gz", "sub/deep/d.htm.gz", "scrape.txt", "UP.HTML"]
    ignored = ["image.png", "notes.md", "sub/data.json", "page.html.bak"]
    for name in names + ignored:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"<p>x</p>")
    items = discover_files(str(tmp_path), "disk")
    assert [item.url for item in items] == [
        (tmp_path / n).resolve().as_uri()
        for n in sorted(
            ["UP.HTML", "a.htm", "b.html", "scrape.txt", "sub/c.html.gz", "sub/deep/d.htm.gz"]
        )
    ]
    assert all(item.url.startswith("file:///") for item in items)
    assert {item.source_name for item in items} == {"disk"}


def test_a_browsers_resource_folder_is_no_page_and_a_linked_folder_is_read_once(
    tmp_path: Path, caplog
):
    """ "Web page, complete" saves X.html beside X_files/ (frames, scripts): an ad's frame there
    was loaded as an article. A symlinked folder was skipped, the log saying `0 other files`;
    it is read, and a loop or a second link to one folder adds nothing."""
    saved = tmp_path / "saved"
    for name in ["story.html", "story_files/ad.html", "story_files/app.js", "notes_files/a.html",
                 "UP.HTML", "UP_files/frame.html"]:  # fmt: skip
        (saved / name).parent.mkdir(parents=True, exist_ok=True)
        (saved / name).write_text("<p>x</p>")
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    (elsewhere / "b.htm").write_text("<p>x</p>")
    (saved / "linked").symlink_to(tmp_path / "elsewhere")
    (saved / "again").symlink_to(tmp_path / "elsewhere")
    (saved / "loop").symlink_to(saved)
    caplog.set_level(logging.INFO)
    urls = [item.url for item in discover_files(str(saved), "disk")]
    assert urls == [  # in the order of the names walked: UP.HTML, linked/…, notes_files/…
        (saved / "UP.HTML").as_uri(),
        (tmp_path / "elsewhere" / "deeper" / "b.htm").as_uri(),
        (saved / "notes_files" / "a.html").as_uri(),  # no notes.html: a folder like any other
        (saved / "story.html").as_uri(),
    ]
    [record] = [r for r in caplog.records if "path source 'disk'" in r.getMessage()]
    assert record.getMessage().endswith("and 3 files of saved pages' resource folders (X_files)")


def test_a_path_source_given_as_a_file_uri_reads_that_file(tmp_path: Path):
    """The fetches table names saved pages by file:// URI, which a user pastes back: it was read
    as a folder named `file:` in the working folder, the row naming a file that exists."""
    page = tmp_path / "a page.html"
    page.write_text("<p>x</p>")
    assert [i.url for i in discover_files(page.as_uri(), "one")] == [page.as_uri()]
    assert [i.url for i in discover_files(tmp_path.as_uri(), "all")] == [page.as_uri()]
    with pytest.raises(SourceError, match=r"names a file on another machine \(server\)"):
        discover_files("file://server/share/x.html", "unc")


def test_a_folder_with_no_page_file_is_a_warning(tmp_path: Path, caplog):
    """An empty drop folder is a normal run, but it was read without a word above INFO."""
    (tmp_path / "notes.md").write_text("x")
    assert discover_files(str(tmp_path), "drop") == []
    [record] = [r for r in caplog.records if "path source 'drop'" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert (
        record.getMessage()
        == f"path source 'drop': 0 page files, 1 other files ignored under {tmp_path}"
    )


def test_discover_files_single_file_missing_path_and_wrong_type(tmp_path: Path):
    page = tmp_path / "one.html"
    page.write_text("<p>x</p>")
    assert [i.url for i in discover_files(str(page), "one")] == [page.resolve().as_uri()]
    with pytest.raises(SourceError, match="does not exist") as missing:
        discover_files(str(tmp_path / "nope"), "gone")
    assert missing.value.kind == "not_found"
    other = tmp_path / "a.pdf"
    other.write_bytes(b"%PDF")
    with pytest.raises(SourceError, match="is not one of") as wrong:
        discover_files(str(other), "pdf")
    assert wrong.value.kind == "unsupported_file"


def test_a_fifo_or_a_dangling_link_named_like_a_page_is_a_row_not_a_hang(
    tmp_path: Path, fetch_settings
):
    """open() of a FIFO waits for a writer: one named like a page hung the whole run, past
    SIGTERM. It is refused as it is read; a dangling symlink is recorded under its own name,
    not its target's (which was refused as `content_type` when the target had no page suffix)."""
    page = tmp_path / "ok.html"
    page.write_text("<html><body><p>Taliban fighters entered Kunduz on Sunday.</p></body></html>")
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    (tmp_path / "dangling.html").symlink_to(tmp_path / "gone")
    urls = [item.url for item in discover_files(str(tmp_path), "disk")]
    assert urls == [
        (tmp_path / name).as_uri() for name in ("dangling.html", "fifo.html", "ok.html")
    ]
    assert [item.url for item in discover_files(str(fifo), "one")] == [fifo.as_uri()]
    results = []
    reading = threading.Thread(
        target=lambda: results.extend(fetch_url(url, fetch_settings) for url in urls), daemon=True
    )
    reading.start()
    reading.join(10)
    if reading.is_alive():
        with fifo.open("wb"):  # the writer the blocked open() waits for
            pass
        reading.join(10)
        pytest.fail("reading a FIFO named like a page waited for a writer")
    assert [(r.outcome, r.error) for r in results] == [
        ("not_found", f"file {tmp_path / 'dangling.html'} does not exist or is not a file"),
        ("unsupported_file", f"file {fifo} is a FIFO; only regular files are read as pages"),
        ("ok", None),
    ]


# ---------------------------------------------------------------------------------------------
# Command-line sources


def test_a_url_list_from_a_pipe_is_read_to_its_end(fetch_settings):
    """`--urls-file <(grep kabul urls.txt)`: the shell passes /dev/fd/63, a pipe. Resolved as a
    symlink it became /proc/…/fd/pipe:[…], which no one can open (`not_found`)."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"https://example.org/a\nhttps://example.org/b\n")
    os.close(write_end)
    try:
        [source] = sources_from_cli([], [f"/dev/fd/{read_end}"], [], [], [])
        assert source.location == f"/dev/fd/{read_end}"
        found = expand_sources([source], fetch_settings)
    finally:
        os.close(read_end)
    assert [(f.url, f.outcome) for f in found.fetches] == [(f"file:///dev/fd/{read_end}", "ok")]
    assert [item.url for item in found.items] == ["https://example.org/a", "https://example.org/b"]


@pytest.mark.parametrize(("flag", "name"), [("feed", "tpm.atom"), ("sitemap", None)])
def test_a_feed_or_sitemap_from_a_pipe_is_read_whatever_its_name(
    fetch_settings, corpus, flag, name
):
    """`--feed <(curl -s …)` is /dev/fd/63, a name without a suffix: it was refused, `content_type:
    … suffix must be .atom, …, .xml`, though the user named it as a feed."""
    body = corpus_bytes(corpus, NODE / name) if name else urlset([("https://n.org/a", None)])
    read_end, write_end = os.pipe()

    def write() -> None:  # a feed is larger than a pipe holds: written as it is read
        with contextlib.suppress(BrokenPipeError), open(write_end, "wb") as pipe:
            pipe.write(body)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        feeds, sitemaps = (
            ([f"/dev/fd/{read_end}"], []) if flag == "feed" else ([], [f"/dev/fd/{read_end}"])
        )
        [source] = sources_from_cli([], [], feeds, sitemaps, [])
        found = expand_sources([source], fetch_settings)
    finally:
        os.close(read_end)  # a writer still writing (the pipe refused unread) is told so
        writer.join()
    assert [f.outcome for f in found.fetches] == ["ok"], found.fetches[0].error
    assert len(found.items) == (20 if flag == "feed" else 1)


def test_sources_from_cli_names_every_input(tmp_path: Path):
    listing = tmp_path / "urls.txt"
    found = sources_from_cli(
        urls=["https://a.org/1", "https://a.org/2"],
        urls_files=[str(listing)],
        feeds=["https://a.org/rss"],
        sitemaps=["https://a.org/sitemap.xml"],
        paths=[str(tmp_path)],
    )
    assert [(s.name, s.kind) for s in found] == [
        ("cli:url", "urls"),
        (f"cli:urls:{listing.resolve()}", "urls"),
        ("cli:feed:https://a.org/rss", "feed"),
        ("cli:sitemap:https://a.org/sitemap.xml", "sitemap"),
        (f"cli:path:{tmp_path.resolve()}", "path"),
    ]
    assert found[0].options["inline"] == ["https://a.org/1", "https://a.org/2"]
    assert sources_from_cli([], [], [], [], []) == []
    # an input given twice is one source (two of a name failed the run's load of its sources)
    twice = sources_from_cli([], [], ["https://a.org/rss"] * 2, [], [str(tmp_path), f"{tmp_path}/"])
    assert [s.name for s in twice] == [
        "cli:feed:https://a.org/rss",
        f"cli:path:{tmp_path.resolve()}",
    ]
    with pytest.raises(ValueError, match="--url 'www.bbc.com/news' is not an http"):
        sources_from_cli(["www.bbc.com/news"], [], [], [], [])
    # a URL as --path was looked for as a folder "http:", its // made /: not_found, misnamed
    with pytest.raises(ValueError) as raised:
        sources_from_cli([], [], [], [], ["https://a.org/news/1.html"])
    assert str(raised.value) == (
        "--path 'https://a.org/news/1.html' is a URL; --path reads saved pages on disk (a file "
        "or a folder): for a page on the web use --url"
    )


# ---------------------------------------------------------------------------------------------
# expand_sources against a loopback server


@pytest.fixture
def site(httpserver):
    """A loopback news site with robots.txt absent (everything allowed)."""
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    return httpserver


def serve(httpserver, path: str, body: bytes, content_type: str, status: int = 200) -> str:
    httpserver.expect_request(path).respond_with_data(
        body, status=status, content_type=content_type
    )
    return httpserver.url_for(path)


def requests_for(httpserver, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def test_feed_entries_survive_when_their_pages_404(site, fetch_settings):
    feed = rss(
        [
            {
                "guid": "k-1",
                "title": "Ghazni falls",
                "link": "/2021/08/12/ghazni",
                "description": "x",
            },
            {"guid": "k-2", "title": "Herat falls", "link": "/2021/08/13/herat"},
        ]
    )
    feed_url = serve(site, "/feed.xml", feed, "application/rss+xml")
    for path in ("/2021/08/12/ghazni", "/2021/08/13/herat"):
        serve(site, path, b"gone", "text/html", status=404)
    found = expand_sources([Source("news", "feed", feed_url)], fetch_settings)
    assert [f.outcome for f in found.fetches] == ["ok"]
    assert [e.title for e in found.feed_entries] == ["Ghazni falls", "Herat falls"]
    assert [i.url for i in found.items] == [
        site.url_for("/2021/08/12/ghazni"),
        site.url_for("/2021/08/13/herat"),
    ]
    assert all(i.feed_entry is not None and i.feed_entry.link == i.url for i in found.items)
    pages = [fetch_url(i.url, fetch_settings, source_name="news") for i in found.items]
    assert [p.outcome for p in pages] == ["http_404", "http_404"]
    assert [e.title for e in found.feed_entries] == ["Ghazni falls", "Herat falls"]


NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>{zaranj}</loc>
    <news:news><news:publication><news:name>Frontier Dispatch</news:name>
      <news:language>en</news:language></news:publication>
      <news:publication_date>2021-08-06T16:40:00+04:30</news:publication_date>
      <news:title>Taliban take Zaranj, first provincial capital to fall</news:title>
    </news:news></url>
  <url><loc>{plain}</loc><lastmod>2021-08-07</lastmod></url>
</urlset>"""


def test_a_news_sitemap_gives_its_pages_their_title_and_publication_time(site, fetch_settings):
    """A Google News sitemap, the list news sites keep of their latest stories, states each
    story's headline and time (<news:title>, <news:publication_date>): they fill what a page
    lacks, as a feed entry's do. Before, they were read past."""
    from tasks.extraction import clean_page

    body = " ".join(["Taliban fighters entered Zaranj, the capital of Nimroz province."] * 12)
    page = f"<html><body><article><p>{body}</p></article></body></html>".encode()
    zaranj = serve(site, "/2021/zaranj", page, "text/html")
    plain = serve(site, "/2021/other", page.replace(b"Zaranj", b"Sheberghan"), "text/html")
    sitemap = NEWS_SITEMAP.format(zaranj=zaranj, plain=plain).encode()
    found = expand_sources(
        [Source("map", "sitemap", serve(site, "/news.xml", sitemap, "application/xml"))],
        fetch_settings,
    )
    assert [i.url for i in found.items] == [zaranj, plain]
    news_url = site.url_for("/news.xml")  # kept as a feed's entries are: a reclean reads it
    assert [(e.feed_url, e.entry_key, e.link, e.title) for e in found.feed_entries] == [
        (news_url, zaranj, zaranj, "Taliban take Zaranj, first provincial capital to fall")
    ]
    docs = [clean_page(fetch) for fetch in fetch_pages(found.items, fetch_settings)]
    assert docs[0].title == "Taliban take Zaranj, first provincial capital to fall"
    assert docs[0].published_at == datetime(2021, 8, 6, 12, 10, tzinfo=UTC)
    assert (docs[1].title, docs[1].published_at) == (None, None)  # lastmod is no publication time


def test_sitemap_index_recursion_is_bounded_and_loops_are_visited_once(site, fetch_settings):
    index_url = site.url_for("/sitemap_index.xml")
    child_gz = site.url_for("/sitemap-1.xml.gz")
    child_txt = site.url_for("/sitemap-2.txt")
    serve(
        site,
        "/sitemap_index.xml",
        sitemap_index([child_gz, index_url, child_txt, child_gz + "#again"]),
        "application/xml",
    )
    serve(
        site,
        "/sitemap-1.xml.gz",
        gzip.compress(urlset([(site.url_for("/a"), "2021-08-14"), (site.url_for("/b"), None)])),
        "application/gzip",
    )
    serve(
        site,
        "/sitemap-2.txt",
        f"{site.url_for('/c')}\n{site.url_for('/a')}\n".encode(),
        "text/plain",
    )
    found = expand_sources([Source("map", "sitemap", index_url)], fetch_settings)
    assert [f.outcome for f in found.fetches] == ["ok", "ok", "ok"]
    assert [(i.url, i.sitemap_lastmod) for i in found.items] == [
        (site.url_for("/a"), datetime(2021, 8, 14, tzinfo=UTC)),
        (site.url_for("/b"), None),
        (site.url_for("/c"), None),
    ]
    for path in ("/sitemap_index.xml", "/sitemap-1.xml.gz", "/sitemap-2.txt"):
        assert requests_for(site, path) == 1, path


def test_sitemap_depth_and_count_limits_are_recorded(site, fetch_settings, monkeypatch):
    # a chain index-0 → index-1 → … → index-5: depths 0..3 are fetched, index-4 is recorded
    for level in range(6):
        child = site.url_for(f"/index-{level + 1}.xml")
        serve(site, f"/index-{level}.xml", sitemap_index([child]), "application/xml")
    found = expand_sources(
        [Source("deep", "sitemap", site.url_for("/index-0.xml"))], fetch_settings
    )
    assert [f.outcome for f in found.fetches] == ["ok"] * 4 + ["sitemap_limit"]
    assert found.fetches[-1].url == site.url_for("/index-4.xml")
    assert requests_for(site, "/index-4.xml") == 0

    monkeypatch.setattr(sources, "MAX_SITEMAPS_PER_SOURCE", 3)
    wide = [site.url_for(f"/wide-{n}.xml") for n in range(5)]
    serve(site, "/wide.xml", sitemap_index(wide), "application/xml")
    for n in range(5):
        serve(site, f"/wide-{n}.xml", urlset([(site.url_for(f"/w{n}"), None)]), "application/xml")
    found = expand_sources([Source("wide", "sitemap", site.url_for("/wide.xml"))], fetch_settings)
    assert [f.outcome for f in found.fetches] == ["ok"] * 3 + ["sitemap_limit"] * 3
    assert len(found.items) == 2


def test_source_documents_share_one_robots_read_and_the_per_host_delay(site, fetch_settings):
    starts: list[float] = []

    def timed(body: bytes, content_type: str):
        def answer(request):
            starts.append(time.monotonic())
            return Response(body, content_type=content_type)

        return answer

    children = [site.url_for(f"/part-{n}.xml") for n in range(3)]
    site.expect_request("/index.xml").respond_with_handler(
        timed(sitemap_index(children), "application/xml")
    )
    for n in range(3):
        part = urlset([(site.url_for(f"/p{n}"), None)])
        site.expect_request(f"/part-{n}.xml").respond_with_handler(timed(part, "application/xml"))
    feed = rss([{"guid": "1", "link": "/news"}])
    site.expect_request("/feed.xml").respond_with_handler(timed(feed, "application/rss+xml"))
    configured = [
        Source("map", "sitemap", site.url_for("/index.xml")),
        Source("news", "feed", site.url_for("/feed.xml")),
    ]
    found = expand_sources(configured, fetch_settings)
    assert [f.outcome for f in found.fetches] == ["ok"] * 5
    assert requests_for(site, "/robots.txt") == 1

    starts.clear()  # robots.txt off: only the documents themselves are spaced by the delay
    polite = fetch_settings.model_copy(update={"per_host_delay": 0.2, "respect_robots": False})
    found = expand_sources(configured, polite)
    assert [f.outcome for f in found.fetches] == ["ok"] * 5
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.15


def test_bad_sources_are_recorded_and_never_stop_the_others(site, fetch_settings, tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "saved.html").write_text("<p>saved</p>")
    listing = tmp_path / "picks.txt"
    listing.write_text(f"# picks\n{site.url_for('/p1')}\n{site.url_for('/shared')}\n")
    feed = rss(
        [{"guid": "urn:s", "title": "Shared", "link": "/shared"}, {"guid": "urn:o", "link": "/own"}]
    )
    serve(site, "/feed.xml", feed, "application/rss+xml")
    serve(site, "/page.html", b"<!DOCTYPE html><html><body>news</body></html>", "text/html")
    serve(site, "/missing.xml", b"no", "text/plain", status=404)
    configured = [
        Source("picks", "urls", str(listing)),
        Source("html-not-feed", "feed", site.url_for("/page.html")),
        Source("gone", "feed", site.url_for("/missing.xml")),
        Source("nowhere", "path", str(tmp_path / "absent")),
        Source("bad-limit", "feed", site.url_for("/feed.xml"), {"limit": "ten"}),
        Source("news", "feed", site.url_for("/feed.xml"), {"limit": 5}),
        Source("disk", "path", str(tmp_path / "pages")),
    ]
    found = expand_sources(configured, fetch_settings)
    outcomes = {f.source_name: f.outcome for f in found.fetches}
    assert outcomes["picks"] == "ok"
    assert outcomes["html-not-feed"] in {"not_a_feed", "content_type"}
    assert outcomes["gone"] == "http_404"
    assert outcomes["nowhere"] == "not_found"
    assert outcomes["bad-limit"] == "bad_option"
    assert outcomes["news"] == "ok"
    assert all(f.fetched_at is not None for f in found.fetches)
    assert all(f.error for f in found.fetches if f.outcome != "ok")
    by_url = {i.url: i for i in found.items}
    assert list(by_url) == [
        site.url_for("/p1"),
        site.url_for("/shared"),
        site.url_for("/own"),
        (tmp_path / "pages" / "saved.html").resolve().as_uri(),
    ]
    assert by_url[site.url_for("/shared")].source_name == "picks"  # the first source wins
    assert by_url[site.url_for("/shared")].feed_entry is None
    assert by_url[site.url_for("/own")].feed_entry.entry_key == "urn:o"
    assert [e.entry_key for e in found.feed_entries] == ["urn:s", "urn:o"]


def test_an_odd_feed_entry_never_stops_the_other_sources(site, fetch_settings):
    odd = rss([{"guid": "o", "link": "/odd", "description": "<![CDATA[<html></html>]]>"}])
    serve(site, "/odd.xml", odd, "application/rss+xml")
    serve(site, "/news.xml", rss([{"guid": "n", "link": "/news"}]), "application/rss+xml")
    configured = [
        Source("odd", "feed", site.url_for("/odd.xml")),
        Source("news", "feed", site.url_for("/news.xml")),
    ]
    found = expand_sources(configured, fetch_settings)
    assert [(f.source_name, f.outcome) for f in found.fetches] == [("odd", "ok"), ("news", "ok")]
    assert [i.url for i in found.items] == [site.url_for("/odd"), site.url_for("/news")]


def test_an_unexpected_error_in_one_source_is_recorded_as_its_failure(
    site, fetch_settings, monkeypatch, caplog
):
    def broken_sitemap_reader(body: bytes, url: str) -> None:
        raise KeyError("loc")

    monkeypatch.setattr(sources, "read_sitemap", broken_sitemap_reader)
    serve(site, "/sitemap.xml", urlset([(site.url_for("/a"), None)]), "application/xml")
    serve(site, "/news.xml", rss([{"guid": "n", "link": "/news"}]), "application/rss+xml")
    configured = [
        Source("map", "sitemap", site.url_for("/sitemap.xml")),
        Source("news", "feed", site.url_for("/news.xml")),
    ]
    with caplog.at_level(logging.ERROR, logger="tasks.sources"):
        found = expand_sources(configured, fetch_settings)
    assert [(f.source_name, f.outcome) for f in found.fetches] == [
        ("map", "internal_error"),
        ("news", "ok"),
    ]
    assert "unexpected KeyError while expanding source 'map'" in found.fetches[0].error
    assert found.fetches[0].fetched_at is not None
    assert [i.url for i in found.items] == [site.url_for("/news")]
    assert any(record.exc_info for record in caplog.records)  # the traceback is kept


def test_an_unexpected_errors_record_names_the_source_and_calls_it_a_bug(
    tmp_path, fetch_settings, monkeypatch, caplog
):
    """The whole wording of a source's internal_error record, its traceback in the log."""

    def broken_path_reader(source: Source) -> Discovery:
        raise KeyError("suffix")

    monkeypatch.setattr(sources, "_expand_path", broken_path_reader)
    saved = Source("saved", "path", str(tmp_path))
    with caplog.at_level(logging.ERROR):
        [record] = expand_sources([saved], fetch_settings).fetches
    assert (record.url, record.source_name, record.outcome) == (
        str(tmp_path),
        "saved",
        "internal_error",
    )
    assert record.error == (
        "unexpected KeyError while expanding source 'saved': 'suffix' "
        "(a bug in newsflow; the traceback is in the log)"
    )
    assert record.fetched_at is not None
    assert [r.exc_info is not None for r in caplog.records] == [True]


def test_a_source_built_by_hand_with_an_unknown_kind_is_recorded_as_a_bug(
    tmp_path, fetch_settings, caplog
):
    """Sources files and the command line make only the four kinds; any other is newsflow's bug."""
    (tmp_path / "a.html").write_text("<p>a</p>")
    odd = Source("odd", "rss", "https://n.org/rss")  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        found = expand_sources([odd, Source("saved", "path", str(tmp_path))], fetch_settings)
    assert [(f.source_name, f.outcome) for f in found.fetches] == [("odd", "internal_error")]
    assert found.fetches[0].error.startswith("unexpected AssertionError while expanding source")
    assert [i.source_name for i in found.items] == ["saved"]


def test_variants_of_one_page_url_become_one_item(site, fetch_settings):
    feed = rss(
        [
            {"guid": "1", "title": "First", "link": "/a1"},
            {"guid": "2", "title": "Comments", "link": "/a1#comments"},
            {"guid": "3", "title": "Tracked", "link": "/a1?utm_source=rss&amp;utm_medium=feed"},
            {"guid": "4", "title": "Other", "link": "/a2?id=7&amp;utm_campaign=x"},
        ]
    )
    serve(site, "/feed.xml", feed, "application/rss+xml")
    serve(site, "/sitemap.xml", urlset([(site.url_for("/a2?id=7"), None)]), "application/xml")
    configured = [
        Source("news", "feed", site.url_for("/feed.xml")),
        Source("map", "sitemap", site.url_for("/sitemap.xml")),
        Source("news-again", "feed", site.url_for("/feed.xml")),  # the same feed, named twice
    ]
    found = expand_sources(configured, fetch_settings)
    assert [(i.url, i.source_name) for i in found.items] == [
        (site.url_for("/a1"), "news"),
        (site.url_for("/a2?id=7&utm_campaign=x"), "news"),
    ]
    assert found.items[0].feed_entry.title == "First"
    # every entry is kept, once (the second naming of the feed adds none); pages fetched once
    assert [e.title for e in found.feed_entries] == ["First", "Comments", "Tracked", "Other"]


def test_discovery_reads_each_items_url_key_once(tmp_path, fetch_settings, monkeypatch):
    """Items are told apart by url_key once, across all sources: not per source and then again."""
    for name in ("a.html", "b.txt"):
        (tmp_path / name).write_text("Kandahar fell.", encoding="utf-8")
    keyed = []

    def counted_url_key(url: str) -> str:
        keyed.append(url)
        return url_key(url)

    monkeypatch.setattr(sources, "url_key", counted_url_key)
    named_twice = [Source("saved", "path", str(tmp_path)), Source("again", "path", str(tmp_path))]
    found = expand_sources(named_twice, fetch_settings)
    assert [(i.url, i.source_name) for i in found.items] == [
        ((tmp_path / "a.html").as_uri(), "saved"),
        ((tmp_path / "b.txt").as_uri(), "saved"),
    ]
    assert len(keyed) == 4  # two files, named by two sources


def test_a_feed_is_decoded_by_the_charset_its_http_header_declares(site, fetch_settings):
    feed = rss([{"guid": "1", "title": "Талибы взяли Кандагар", "link": "/kandahar"}])
    feed = feed.replace(b' encoding="UTF-8"', b"").decode().encode("cp1251")
    content_type = "application/rss+xml; charset=windows-1251"
    serve(site, "/feed.xml", feed, content_type)
    found = expand_sources([Source("ru", "feed", site.url_for("/feed.xml"))], fetch_settings)
    assert [(f.outcome, f.error) for f in found.fetches] == [("ok", None)]
    assert [e.title for e in found.feed_entries] == ["Талибы взяли Кандагар"]


def test_a_utf8_feed_that_declares_another_charset_is_read_as_utf8(site, fetch_settings):
    """Its bytes are valid UTF-8, so the old windows-1251 in its header and declaration is not
    believed (the titles were loaded as "Ð¢Ð°Ð»Ð¸Ð±Ñ‹")."""
    feed = rss([{"guid": "1", "title": "Талибы взяли Кандагар", "link": "/kandahar"}])
    feed = feed.replace(b' encoding="UTF-8"', b' encoding="windows-1251"')
    serve(site, "/feed.xml", feed, "application/rss+xml; charset=windows-1251")
    found = expand_sources([Source("ru", "feed", site.url_for("/feed.xml"))], fetch_settings)
    assert [(f.outcome, f.error) for f in found.fetches] == [("ok", None)]
    assert [e.title for e in found.feed_entries] == ["Талибы взяли Кандагар"]


def test_not_a_feed_served_as_xml_is_recorded_with_its_message(site, fetch_settings):
    serve(site, "/fake.xml", b"<!DOCTYPE html><html><body>x</body></html>", "application/xml")
    found = expand_sources([Source("fake", "feed", site.url_for("/fake.xml"))], fetch_settings)
    (fetch,) = found.fetches
    assert fetch.outcome == "not_a_feed"
    assert "is an HTML page, not a feed" in fetch.error
    assert found.items == [] and found.feed_entries == []


def test_a_home_page_given_as_a_feed_names_the_feeds_it_declares(site, fetch_settings):
    """A site's home page passed as --feed: the refusal names the feeds its <link
    rel="alternate"> elements declare (absolute, once each), not only that it is no feed."""
    head = (
        # WordPress's REST API record of the page: JSON, but not a feed
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">'
        '<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        '<link rel="Alternate" type="application/atom+xml" href="https://n.example/atom">'
        '<link rel="alternate" hreflang="fr" href="/fr/">'  # another language, not a feed
        '<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
    )
    page = f"<!doctype html><html><head>{head}</head><body><p>News</p></body></html>"
    home = serve(site, "/", page.encode(), "text/html")
    found = expand_sources([Source("home", "feed", home)], fetch_settings)
    assert [(f.outcome, f.error) for f in found.fetches] == [
        (
            "not_a_feed",
            f"{home} is an HTML page, not a feed; it names its feeds: {site.url_for('/rss.xml')}, "
            "https://n.example/atom; pass one of them",
        )
    ]


def test_limit_and_remote_url_list(site, fetch_settings):
    lines = "\n".join(site.url_for(f"/story/{n}") for n in range(10)) + "\n/story/relative\n"
    serve(site, "/list.txt", lines.encode(), "text/plain; charset=utf-8")
    found = expand_sources(
        [Source("remote", "urls", site.url_for("/list.txt"), {"limit": 3})], fetch_settings
    )
    assert [i.url for i in found.items] == [site.url_for(f"/story/{n}") for n in range(3)]
    found = expand_sources([Source("remote", "urls", site.url_for("/list.txt"))], fetch_settings)
    assert found.items[-1].url == site.url_for("/story/relative")


def test_url_lists_are_read_whatever_their_name_or_text_type(site, fetch_settings, tmp_path):
    listing = "\n".join(site.url_for(f"/story/{n}") for n in range(2)) + "\n"
    for name in ("urls", "backlog.csv", "picks.txt"):
        (tmp_path / name).write_text(listing)
    serve(site, "/backlog.csv", listing.encode(), "text/csv; charset=utf-8")
    serve(site, "/urls", listing.encode(), "application/octet-stream")
    serve(site, "/urls.pdf", b"%PDF-1.7", "application/pdf")
    configured = [
        Source("no-suffix", "urls", str(tmp_path / "urls")),
        Source("csv", "urls", str(tmp_path / "backlog.csv")),
        Source("txt", "urls", str(tmp_path / "picks.txt")),
        Source("csv-http", "urls", site.url_for("/backlog.csv")),
        Source("octets-http", "urls", site.url_for("/urls")),
        Source("pdf-http", "urls", site.url_for("/urls.pdf")),
    ]
    found = expand_sources(configured, fetch_settings)
    outcomes = [(f.source_name, f.outcome) for f in found.fetches]
    assert outcomes == [(s.name, "ok") for s in configured[:-1]] + [("pdf-http", "content_type")]
    assert [(i.url, i.source_name) for i in found.items] == [
        (site.url_for("/story/0"), "no-suffix"),
        (site.url_for("/story/1"), "no-suffix"),
    ]  # every list names the same two pages: the first source wins
    for source in configured[1:-1]:
        alone = expand_sources([source], fetch_settings)
        assert [i.url for i in alone.items] == [site.url_for(f"/story/{n}") for n in range(2)]


def test_a_url_list_that_is_a_page_or_holds_no_url_is_refused_with_its_reason(
    site, fetch_settings, tmp_path, caplog
):
    """An HTML page given as a URL list was read line by line: 2 000 warnings, and its lines
    that begin with / (`/*<![CDATA[*/`) requested as paths of its site. A list none of whose
    lines is a URL exited 0 having discovered nothing; its warnings named no list."""
    page = "<!DOCTYPE html>\n<html><head>\n<script>/*<![CDATA[*/ var a = 1; /*]]>*/</script>\n"
    serve(site, "/story.html", page.encode(), "text/html; charset=utf-8")
    (tmp_path / "backlog.csv").write_text("url;title\nhttps ://a.org/1;One\n\n# note\n")
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    (tmp_path / "some.txt").write_text("url\n" + site.url_for("/story/1") + "\n")
    configured = [
        Source("page", "urls", site.url_for("/story.html")),
        Source("csv", "urls", str(tmp_path / "backlog.csv")),
        Source("empty", "urls", str(tmp_path / "empty.txt")),
        Source("some", "urls", str(tmp_path / "some.txt")),
    ]
    found = expand_sources(configured, fetch_settings)
    assert [(f.source_name, f.outcome) for f in found.fetches] == [
        ("page", "not_a_url_list"), ("csv", "no_urls"), ("empty", "ok"), ("some", "ok")
    ]  # fmt: skip
    assert found.fetches[0].error.startswith(
        f"{site.url_for('/story.html')} is an HTML page, not a URL list (one URL a line)"
    )
    assert found.fetches[1].error == (
        f"URL list {tmp_path / 'backlog.csv'}: none of its 1 rows has an http(s) URL in its "
        "'url' column (first: 'https ://a.org/1')"
    )
    assert [i.url for i in found.items] == [site.url_for("/story/1")]
    assert "some.txt" not in caplog.text  # its first line, `url`, is its column's header
    assert not [r for r, _ in site.log if "CDATA" in r.path]  # no line of the page asked for


def test_a_url_on_the_command_line_with_a_space_is_fetched_with_it_encoded():
    """It was read as a list's line, cut at the space and dropped with a warning of a "URL
    list" line, and nothing fetched; a browser sends the space as %20."""
    [source] = sources_from_cli(["https://a.org/news/a b.html "], [], [], [], [])
    assert source.options["inline"] == ["https://a.org/news/a%20b.html"]


def test_sitemap_limit_stops_fetching_more_sitemaps(site, fetch_settings):
    children = [site.url_for(f"/part-{n}.xml") for n in range(3)]
    serve(site, "/index.xml", sitemap_index(children), "application/xml")
    for n in range(3):
        pages = [(site.url_for(f"/p{n}-{k}"), None) for k in range(2)]
        serve(site, f"/part-{n}.xml", urlset(pages), "application/xml")
    limited = Source("map", "sitemap", site.url_for("/index.xml"), {"limit": 3})
    found = expand_sources([limited], fetch_settings)
    assert [i.url for i in found.items] == [
        site.url_for("/p0-0"),
        site.url_for("/p0-1"),
        site.url_for("/p1-0"),
    ]
    assert requests_for(site, "/part-2.xml") == 0


def test_corpus_gzip_feed_served_over_http(site, fetch_settings, corpus):
    body = corpus_bytes(corpus, NODE / "compressed.xml")
    url = serve(site, "/compressed.xml", body, "application/xml")
    found = expand_sources([Source("oren", "feed", url)], fetch_settings)
    assert found.fetches[0].outcome == "ok"
    assert len(found.feed_entries) == 10
    assert found.feed_entries[0].title.startswith("В Бузулуке")


def test_discover_items_logs_a_summary_per_source(tmp_path, fetch_settings, caplog):
    (tmp_path / "a.html").write_text("<p>a</p>")
    configured = [
        Source("disk", "path", str(tmp_path)),
        Source("gone", "path", str(tmp_path / "x")),
    ]
    with caplog.at_level(logging.INFO, logger="tasks.sources"):
        found = discover_items.fn(configured, fetch_settings)
    assert isinstance(found, Discovery)
    assert [i.url for i in found.items] == [(tmp_path / "a.html").resolve().as_uri()]
    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("sources:"))
    assert "1 items (disk: 1)" in summary and "1 failed" in summary and "not_found" in summary


def test_a_failed_list_is_one_warning_and_a_long_lists_skipped_lines_are_counted(
    tmp_path, fetch_settings, caplog
):
    refused = tmp_path / "notes.txt"
    refused.write_text("hello\nworld\n")
    long = tmp_path / "long.txt"
    long.write_text("http://n.org/a\n" + "".join(f"word{i}\n" for i in range(25)))
    configured = [Source("notes", "urls", str(refused)), Source("long", "urls", str(long))]
    with caplog.at_level(logging.INFO, logger="tasks.sources"):
        found = discover_items.fn(configured, fetch_settings)
    assert [i.url for i in found.items] == ["http://n.org/a"]
    about_notes = [r.getMessage() for r in caplog.records if "notes.txt" in r.getMessage()]
    [refusal] = [m for m in about_notes if not m.startswith("sources:")]
    assert refusal.startswith("source notes: ") and "none of its 2 lines" in refusal
    about_long = [r.getMessage() for r in caplog.records if "long.txt" in r.getMessage()]
    assert len(about_long) == sources.MAX_SKIPPED_LOGGED + 1
    assert about_long[0].endswith("line 2 skipped: 'word0' is not an http(s) URL")
    assert about_long[-1].endswith("long.txt: 5 more lines skipped, not logged one by one")


def test_task_retries_only_transient_failures():
    assert sources._retry_transient(None, None, Failed(data=requests.ConnectionError("reset")))
    assert sources._retry_transient(None, None, Failed(data=requests.Timeout("slow")))
    assert not sources._retry_transient(None, None, Failed(data=KeyError("bug")))
    assert not sources._retry_transient(None, None, Failed(data=SourceError("bad_option", "x")))


def test_feed_and_sitemap_files_on_disk(corpus, tmp_path, fetch_settings):
    sitemap = tmp_path / "sitemap.xml.gz"
    sitemap.write_bytes(gzip.compress(urlset([("https://n.org/a", "2021-08-15")])))
    configured = [
        Source("saved-feed", "feed", str(corpus / NODE / "tpm.atom")),
        Source("saved-map", "sitemap", sitemap.as_uri()),
        Source("missing-feed", "feed", str(tmp_path / "gone.xml")),
    ]
    found = expand_sources(configured, fetch_settings)
    assert [(f.source_name, f.outcome) for f in found.fetches] == [
        ("saved-feed", "ok"),
        ("saved-map", "ok"),
        ("missing-feed", "not_found"),
    ]
    assert found.fetches[0].url == (corpus / NODE / "tpm.atom").resolve().as_uri()
    assert len(found.feed_entries) == 20
    assert found.items[0].url.startswith("http://talkingpointsmemo.com/livewire/hannity-")
    assert found.items[-1].url == "https://n.org/a"
    assert found.items[-1].sitemap_lastmod == datetime(2021, 8, 15, tzinfo=UTC)


def test_a_sitemap_whose_lastmod_is_not_trusted_gives_its_pages_none(tmp_path, fetch_settings):
    """`trust_lastmod = false`, for a site whose lastmod lags its edits: no page of it then goes
    unrequested as unchanged since fetched (split_unchanged_sitemap_pages)."""
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_bytes(urlset([("https://n.org/a", "2021-08-15T10:00:00Z")]))
    distrusted = Source("lagging", "sitemap", sitemap.as_uri(), {"trust_lastmod": False})
    found = expand_sources([distrusted], fetch_settings)
    assert [(i.url, i.sitemap_lastmod) for i in found.items] == [("https://n.org/a", None)]
    bad = Source("bad", "sitemap", sitemap.as_uri(), {"trust_lastmod": "no"})
    found = expand_sources([bad], fetch_settings)
    assert [(f.outcome, f.error) for f in found.fetches] == [
        ("bad_option", "source 'bad': trust_lastmod must be true or false, not 'no'")
    ]
