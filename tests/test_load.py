"""Loads are atomic and idempotent; duplicates join their story, versions are kept, nothing lost."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime

import pytest

from tasks.dedupe import fingerprints
from tasks.load import write_batch
from tasks.records import Document, FeedEntry, FetchResult
from tests.documents import cleaned_document
from warehouse.db import WarehouseError, reader, writer
from warehouse.integrity import check_warehouse

REPORT = """\
Taliban fighters entered the western city of Qala-i-Naw on Friday after government forces
withdrew overnight, residents said, making it the latest provincial capital to fall in a week
of rapid advances across the north and west of the country. A member of the provincial council
said security forces had pulled back to a military base outside the city and that officials had
left by helicopter. Shops stayed closed and streets were largely empty as fighters drove
through the main bazaar in captured police pickups, according to two residents reached by
telephone. The interior ministry in Kabul said troops were regrouping and promised a
counter-offensive, but gave no details. Aid groups warned that thousands of families had fled toward
Herat in recent days and that food prices in the city had doubled since the fighting began. The
fall of the city leaves government forces holding only a handful of district centres in Badghis
province, where the insurgents have long controlled much of the countryside. Analysts said the
speed of the collapse reflected low morale among troops who had not been paid for months and
who felt abandoned as foreign forces completed their withdrawal."""

OTHER = """\
Officials in Kandahar said on Tuesday that the city's airport had come under rocket fire for a
second night, damaging the runway and forcing the suspension of all civilian flights. A
spokesman for the airport authority said repairs would take several days. Government forces
said they had pushed back attackers on the western edge of the city, where fighting has
displaced tens of thousands of people since July. Hospitals reported dozens of wounded
civilians and appealed for blood donations, while the United Nations called on all sides to
protect civilians and allow aid deliveries into the besieged districts. Traders said the main
road to the border crossing at Spin Boldak remained closed."""


def _syndicated(text: str) -> str:
    """Another outlet's copy: one paragraph-length sentence rewritten, the rest untouched."""
    return " ".join(text.split()).replace(
        "The interior ministry in Kabul said troops were regrouping and promised a "
        "counter-offensive, but gave no details.",
        "A defence ministry spokesman in Kabul insisted that troops were regrouping for a major "
        "counter-offensive and would retake the city within days.",
    )


def _doc(url: str, text: str, *, title: str = "Qala-i-Naw falls", canonical: str | None = None):
    return cleaned_document(
        url,
        text,
        source_name="test",
        title=title,
        site_name="Example News",
        published_at=datetime(2021, 8, 13, 6, 30, tzinfo=UTC),
        published_offset="+04:30",
        canonical_url=canonical,
        fetched_at=datetime(2021, 8, 13, 9, tzinfo=UTC),
    )


def _load(db_path: str, docs: list[Document], extra_fetches: list[FetchResult] = ()):
    usable = [d for d in docs if not d.rejected]
    return write_batch(
        db_path,
        fetches=[d.fetch for d in docs] + list(extra_fetches),
        documents=docs,
        prints=fingerprints(usable),
    )


def _rows(db_path: str, query: str) -> list[tuple]:
    with reader(db_path) as conn:
        return conn.execute(query).fetchall()


def test_reloading_the_same_batch_changes_no_counts(db_path):
    docs = [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)]
    first = _load(db_path, docs)
    assert (first.new, first.unchanged) == (2, 0)
    seen = "SELECT url, first_seen_at, last_seen_at FROM articles ORDER BY url"
    before = _rows(db_path, seen)
    second = _load(db_path, docs)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
    after = _rows(db_path, seen)  # an unchanged article seen again: its last sighting moves
    assert [(url, first) for url, first, _ in after] == [(url, first) for url, first, _ in before]
    assert all(a[2] > b[2] for a, b in zip(after, before, strict=True))
    assert _rows(db_path, "SELECT count(*) FROM articles") == [(2,)]
    assert _rows(db_path, "SELECT count(*) FROM article_versions") == [(2,)]
    assert _rows(db_path, "SELECT count(*) FROM pages") == [(2,)]
    assert _rows(db_path, "SELECT count(*) FROM fetches") == [(4,)]  # every attempt is logged


def test_a_page_is_stored_as_its_body_compressed_with_its_hash_and_size(db_path):
    doc = _doc("https://a.example/news/1", "Кабул “fell” 😀 " + REPORT)
    _load(db_path, [doc])
    body = doc.fetch.html.encode("utf-8")
    [(stored, size, digest)] = _rows(db_path, "SELECT body_zlib, bytes, content_hash FROM pages")
    assert zlib.decompress(stored) == body and size == len(body)
    assert digest == hashlib.sha1(body).hexdigest()


def test_changed_text_at_the_same_url_is_a_new_version(db_path):
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    counts = _load(db_path, [_doc("https://a.example/news/1?utm_source=x", REPORT + " Updated.")])
    assert (counts.new, counts.updated) == (0, 1)
    assert _rows(db_path, "SELECT version, text LIKE '%Updated.' FROM articles") == [(2, True)]
    assert _rows(db_path, "SELECT version FROM article_versions ORDER BY 1") == [(1,), (2,)]


def test_an_edited_headline_over_the_same_text_is_a_new_version(db_path):
    """Editors rewrite headlines ("Taliban claim Qala-i-Naw" became "Qala-i-Naw falls") and
    leave the text: the article kept its first headline, and a search missed the new one."""
    from warehouse.queries import search_articles

    url = "https://a.example/news/1"
    _load(db_path, [_doc(url, REPORT, title="Taliban claim Qala-i-Naw")])
    counts = _load(db_path, [_doc(url, REPORT, title="Qala-i-Naw falls to the Taliban")])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    assert _rows(db_path, "SELECT version, title FROM articles") == [
        (2, "Qala-i-Naw falls to the Taliban")
    ]
    assert _rows(db_path, "SELECT version, title FROM article_versions ORDER BY 1") == [
        (1, "Taliban claim Qala-i-Naw"),
        (2, "Qala-i-Naw falls to the Taliban"),
    ]
    assert [hit["title"] for hit in search_articles(db_path, "falls")] == [
        "Qala-i-Naw falls to the Taliban"
    ]
    assert search_articles(db_path, "claim") == []  # the current version's words only
    again = _load(db_path, [_doc(url, REPORT, title="Qala-i-Naw falls to the Taliban")])
    assert (again.updated, again.unchanged) == (0, 1)
    assert check_warehouse(db_path) == []  # versions 1..2, the text its latest version's


def test_an_article_seen_again_takes_its_metadata_as_read_now(db_path):
    """The same text and headline: no new version, but the byline, site name and language as
    the clean stage reads them now (a newer newsflow reads them better: "Par AFP publié le"
    became "AFP"). Its publication time stays as read with its text: its capture events' dates
    come from it, and are read again only with a new version."""
    from dataclasses import replace

    url = "https://a.example/news/1"
    first = replace(_doc(url, REPORT), author="Par AFP publié le", site_name="https://a.example/")
    _load(db_path, [first])
    seen_again = replace(
        _doc(url, REPORT), author="AFP", site_name="a.example", language="en-GB",
        published_at=datetime(2021, 8, 14, tzinfo=UTC), published_offset="+00:00",
    )  # fmt: skip
    counts = _load(db_path, [seen_again])
    assert (counts.updated, counts.unchanged) == (0, 1)
    columns = "version, author, site_name, language, published_at, published_offset"
    published = datetime(2021, 8, 13, 6, 30, tzinfo=UTC)
    assert _rows(db_path, f"SELECT {columns} FROM articles") == [
        (1, "AFP", "a.example", "en-GB", published, "+04:30")
    ]
    assert _rows(db_path, "SELECT count(*) FROM article_versions") == [(1,)]
    twice = [replace(seen_again, author="Agence France-Presse"), replace(seen_again, author="AFP")]
    assert _load(db_path, twice).unchanged == 2  # one batch: the later reading stands
    assert _rows(db_path, "SELECT author FROM articles") == [("AFP",)]


def test_same_text_elsewhere_is_an_exact_duplicate_of_the_first(db_path):
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    counts = _load(db_path, [_doc("https://mirror.example/copy", REPORT.upper())])
    assert counts.duplicates == {"exact": 1}
    (original,) = _rows(db_path, "SELECT id FROM articles WHERE url LIKE '%a.example%'")[0]
    assert _rows(db_path, "SELECT duplicate_of, cluster_id, duplicate_kind FROM articles "
                 "WHERE url LIKE '%mirror%'") == [(original, original, "exact")]  # fmt: skip


def test_syndicated_copy_in_a_later_run_is_a_near_duplicate(db_path):
    _load(db_path, [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)])
    copy = _doc("https://wire.example/story", _syndicated(REPORT), title="Another headline")
    counts = _load(db_path, [copy])
    assert counts.duplicates == {"near": 1}
    rows = _rows(
        db_path,
        "SELECT d.duplicate_of = o.id, d.similarity FROM articles d, articles o "
        "WHERE d.url LIKE '%wire%' AND o.url LIKE '%a.example%'",
    )
    assert rows[0][0] is True and 0.5 < rows[0][1] < 1.0
    assert _rows(db_path, "SELECT count(DISTINCT cluster_id) FROM articles") == [(2,)]


def test_duplicates_within_one_batch_point_at_the_earliest(db_path):
    docs = [
        _doc("https://a.example/news/1", REPORT),
        _doc("https://wire.example/story", _syndicated(REPORT)),
        _doc("https://c.example/amp/x", OTHER, canonical="https://c.example/x"),
        _doc(
            "https://c.example/print/x", OTHER + " Print edition.", canonical="https://c.example/x"
        ),
    ]
    counts = _load(db_path, docs)
    assert counts.new == 4
    assert counts.duplicates == {"near": 1, "canonical_url": 1}
    assert _rows(db_path, "SELECT count(DISTINCT cluster_id) FROM articles") == [(2,)]


def test_rejected_items_are_kept_with_their_reason(db_path):
    empty = _doc("https://a.example/cookie-wall", "")
    empty.rejected_reason = "no_text"
    counts = _load(db_path, [empty, _doc("https://b.example/k", OTHER)])
    assert counts.rejected == {"no_text": 1}
    assert _rows(db_path, "SELECT url, reason FROM rejected") == [
        ("https://a.example/cookie-wall", "no_text")
    ]
    [(first_seen, last_seen)] = _rows(db_path, "SELECT first_seen_at, last_seen_at FROM rejected")
    again = _doc("https://a.example/cookie-wall", "")
    again.rejected_reason = "too_short"  # seen again, for another reason: one row, the latest
    assert _load(db_path, [again]).rejected == {"too_short": 1}
    [(reason, first, last)] = _rows(
        db_path, "SELECT reason, first_seen_at, last_seen_at FROM rejected"
    )
    assert (reason, first) == ("too_short", first_seen) and last > last_seen


def test_failed_fetches_are_logged_with_their_reason(db_path):
    failed = FetchResult(
        url="https://a.example/gone",
        source_name="test",
        outcome="http_404",
        status=404,
        error="HTTP 404 Not Found",
        fetched_at=datetime.now(UTC),
    )
    counts = _load(db_path, [_doc("https://b.example/k", OTHER)], [failed])
    assert counts.failed == {"http_404": 1}
    assert _rows(db_path, "SELECT outcome, status, error FROM fetches WHERE outcome <> 'ok'") == [
        ("http_404", 404, "HTTP 404 Not Found")
    ]


def test_a_failing_load_leaves_nothing_behind(db_path):
    docs = [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)]
    with pytest.raises(ValueError, match="must align"):
        write_batch(db_path, fetches=[d.fetch for d in docs], documents=docs, prints=[])
    assert _rows(db_path, "SELECT count(*) FROM fetches") == [(0,)]
    assert _rows(db_path, "SELECT count(*) FROM articles") == [(0,)]


def test_a_copy_of_an_updated_article_in_the_same_batch_joins_its_story(db_path):
    _load(db_path, [_doc("https://a.example/news/1", OTHER)])
    updated = _doc("https://a.example/news/1", REPORT)  # same URL, new text: a new version
    copy = _doc("https://mirror.example/copy", REPORT)  # that new text elsewhere, same batch
    counts = _load(db_path, [updated, copy])
    assert (counts.updated, counts.new, counts.duplicates) == (1, 1, {"exact": 1})
    assert _rows(db_path, "SELECT count(DISTINCT cluster_id) FROM articles") == [(1,)]


def _not_modified(url: str, final_url: str) -> FetchResult:
    return FetchResult(
        url=url, source_name="test", outcome="not_modified", final_url=final_url, status=304,
        fetched_at=datetime.now(UTC),
    )  # fmt: skip


def test_a_304_reached_through_a_redirect_marks_the_article_seen(db_path):
    """The article is stored under the URL the redirect led to, not the one requested."""
    _load(db_path, [_doc("https://a.example/a2", REPORT)])
    [(first_seen,)] = _rows(db_path, "SELECT last_seen_at FROM articles")
    write_batch(db_path, fetches=[_not_modified("https://a.example/r1", "https://a.example/a2")])
    [(seen,)] = _rows(db_path, "SELECT last_seen_at FROM articles")
    assert seen > first_seen


def test_an_original_arriving_after_a_copy_that_declared_it_canonical_joins_its_story(db_path):
    copy = _doc("https://c.example/amp-view/x", OTHER, canonical="https://www.c.example/x")
    original = _doc("https://c.example/x", OTHER + " " + REPORT)  # not near: a longer text
    _load(db_path, [copy])
    counts = _load(db_path, [original])  # the next run: as if both came in one batch
    assert counts.duplicates == {"canonical_url": 1}
    assert _rows(db_path, "SELECT count(DISTINCT cluster_id) FROM articles") == [(1,)]
    assert _rows(db_path, "SELECT duplicate_kind FROM articles WHERE url_key = 'c.example/x'") == [
        ("canonical_url",)
    ]


def test_a_declared_canonical_outranks_the_same_text_stored_under_another_story(db_path):
    """A page that names a stored article its canonical joins that story, even when its text is
    the very text of another stored story: the page's own declaration is the stronger evidence,
    where the canonical's text holds the page's."""
    _load(db_path, [_doc("https://c.example/x", OTHER + " " + REPORT)])
    _load(db_path, [_doc("https://z.example/elsewhere", REPORT)])
    counts = _load(
        db_path, [_doc("https://mirror.example/x", REPORT, canonical="https://c.example/x")]
    )
    assert counts.duplicates == {"canonical_url": 1}
    [(declared,)] = _rows(db_path, "SELECT id FROM articles WHERE url = 'https://c.example/x'")
    assert _rows(
        db_path,
        "SELECT cluster_id, duplicate_of, duplicate_kind FROM articles "
        "WHERE url = 'https://mirror.example/x'",
    ) == [(declared, declared, "canonical_url")]


def test_a_canonical_declared_by_an_unrelated_text_makes_no_story(db_path):
    """Two stories a CMS gave one canonical URL (a template's, a copy-paste) were one story, the
    second a copy of the first: a canonical counts only where one text holds the other's, as a
    search engine checks it. Either way round, and within a batch."""
    shared = "https://news.example/2015/story-123.html"
    _load(db_path, [_doc("https://news.example/a", OTHER, canonical=shared)])
    counts = _load(db_path, [_doc("https://news.example/b", REPORT, canonical=shared)])
    assert (counts.new, counts.duplicates) == (1, {})
    notice = " ".join(
        f"Notice {i}: road works close street {i} of the old city." for i in range(40)
    )
    counts = _load(db_path, [_doc(shared, notice)])  # the page both declared, now fetched
    assert (counts.new, counts.duplicates) == (1, {})
    _load(db_path, [
        _doc("https://third.example/d", "A report on the weather in Herat. " * 20,
             canonical="https://third.example/canon"),
        _doc("https://third.example/e", "Markets rallied in Kabul on Monday. " * 20,
             canonical="https://third.example/canon"),
    ])  # fmt: skip
    assert _rows(db_path, "SELECT count(DISTINCT cluster_id), count(duplicate_kind) "
                          "FROM articles") == [(5, 0)]  # fmt: skip


def test_an_exact_copy_adds_no_signature_of_its_own(db_path):
    """An exact copy's MinHash is its original's: only the original's is kept and banded."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    _load(db_path, [_doc("https://mirror.example/copy", REPORT.upper())])
    [(original,)] = _rows(db_path, "SELECT id FROM articles WHERE duplicate_of IS NULL")
    assert _rows(db_path, "SELECT article_id FROM minhash_signatures") == [(original,)]
    assert _rows(db_path, "SELECT DISTINCT article_id FROM minhash_bands") == [(original,)]


def test_two_new_versions_of_one_article_in_one_batch_are_both_kept_in_order(db_path):
    """Two URLs that lead to one article (a redirect) may bring it twice to one batch with
    different texts: both become versions, the later one the article's text."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    second, third = REPORT + " Updated once.", REPORT + " Updated twice."
    counts = _load(
        db_path,
        [_doc("https://a.example/news/1", second), _doc("https://a.example/news/1?ref=x", third)],
    )
    assert (counts.new, counts.updated) == (0, 2)
    assert _rows(db_path, "SELECT version, text FROM articles") == [(3, third)]
    assert _rows(db_path, "SELECT version, text FROM article_versions ORDER BY 1") == [
        (1, REPORT), (2, second), (3, third)
    ]  # fmt: skip


def _answered(url: str, outcome: str, etag: str | None, modified: str | None) -> FetchResult:
    status = {"ok": 200, "not_modified": 304}.get(outcome, 500)
    return FetchResult(
        url=url, source_name="test", outcome=outcome, status=status, etag=etag,
        last_modified=modified, fetched_at=datetime.now(UTC),
    )  # fmt: skip


def test_validators_for_a_rerun_are_each_urls_latest_that_it_was_given(db_path):
    """A re-run's conditional GET sends what the server said last: a 304's new ETag, a
    Last-Modified alone; a failed fetch since (its error page's ETag too), or an answer without
    validators, forgets none."""
    from tasks.fetch import conditional_validators
    from warehouse.queries import known_fetches

    a, b, c = "https://a.example/1", "https://b.example/2", "https://c.example/3"
    monday, tuesday = "Mon, 09 Aug 2021 06:00:00 GMT", "Tue, 10 Aug 2021 06:00:00 GMT"
    write_batch(db_path, fetches=[
        _answered(a, "ok", '"a1"', monday), _answered(b, "ok", None, monday),
        _answered(c, "ok", '"c1"', None),
    ])  # fmt: skip
    write_batch(db_path, fetches=[
        _answered(a, "not_modified", '"a2"', tuesday),
        _answered(b, "http_500", '"error-page"', None), _answered(c, "ok", None, None),
    ])  # fmt: skip
    with writer(db_path) as conn:
        known = known_fetches(conn, [a, b, c, "https://never.example/"])
    assert conditional_validators(known) == {
        a: ('"a2"', tuesday), b: (None, monday), c: ('"c1"', None)
    }  # fmt: skip
    assert set(known) == {a, b, c}  # b's 500 is no answer: its time is its 200's
    assert known[b].fetched_at < known[a].fetched_at


def test_a_url_known_by_its_articles_key_gets_that_fetchs_validators(db_path):
    """A feed's link to a stored page with another tracking parameter (?utm_campaign=day2, as
    feeds that stamp the day write), or http for https: the page was fetched in full again,
    unconditionally, though its article's url_key was the same (QA)."""
    from tasks.fetch import conditional_validators
    from warehouse.queries import known_fetches

    day1 = _doc("https://a.example/news/1?utm_campaign=day1", REPORT)
    assert day1.fetch is not None
    day1.fetch.etag, day1.fetch.last_modified = '"p1"', "Mon, 09 Aug 2021 06:00:00 GMT"
    _load(db_path, [day1])
    day2, http = "https://a.example/news/1?utm_campaign=day2", "http://a.example/news/1"
    other = "https://a.example/news/2?utm_campaign=day2"
    with writer(db_path) as conn:
        known = known_fetches(conn, [day2, http, other])
    assert conditional_validators(known) == {
        day2: ('"p1"', "Mon, 09 Aug 2021 06:00:00 GMT"),
        http: ('"p1"', "Mon, 09 Aug 2021 06:00:00 GMT"),
    }
    assert known[day2].final_url == day1.fetch.final_url


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_the_stories_view_is_the_deduplicated_record(db_path, tmp_path, backend):
    """One row per story (migration 007): its canonical article, its copies and the sites they
    are on; before, an analyst grouped `articles` by cluster_id by hand."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    _load(
        db_path,
        [
            _doc("https://www.a.example/wire/1", REPORT),  # an exact copy on the same site
            _doc("https://b.example/qala", _syndicated(REPORT)),  # a near copy on another
            _doc("https://b.example/k", OTHER, title="Kandahar airport shelled"),
        ],
    )
    stories = "SELECT title, url, copies, sites, published_at FROM stories ORDER BY copies DESC"
    published = datetime(2021, 8, 13, 6, 30, tzinfo=UTC)
    assert _rows(db_path, stories) == [
        ("Qala-i-Naw falls", "https://a.example/news/1", 3, 2, published),
        ("Kandahar airport shelled", "https://b.example/k", 1, 1, published),
    ]
    assert _rows(db_path, "SELECT count(*) FROM stories") == _rows(
        db_path, "SELECT count(DISTINCT cluster_id) FROM articles"
    )


# --- a reclean: stored pages read again ---------------------------------------------------------


def _reclean(db_path: str, readings: list[tuple[int, Document]]):
    """Load documents as a reclean would, each read from the stored page of its fetch id."""
    from dataclasses import replace

    from warehouse.queries import stored_pages
    from warehouse.store import reclean_batch_rows

    fetch_ids = [fetch_id for fetch_id, _ in readings]
    with reader(db_path) as conn:
        pages = stored_pages(conn, fetch_ids)
    docs = [replace(doc, fetch=pages[fetch_id]) for fetch_id, doc in readings]
    usable = [doc for doc in docs if not doc.rejected]
    with writer(db_path) as conn:
        return reclean_batch_rows(
            conn, fetch_ids=fetch_ids, documents=docs, prints=fingerprints(usable)
        )


def _fetch_id(db_path: str, url: str) -> int:
    [(fetch_id,)] = _rows(db_path, f"SELECT max(fetch_id) FROM fetches WHERE url = '{url}'")
    return fetch_id


def test_stored_pages_read_back_as_their_fetches_got_them(db_path):
    doc = _doc("https://a.example/news/1", "Кабул “fell” 😀 " + REPORT)
    _load(db_path, [doc])
    from warehouse.queries import stored_pages

    with reader(db_path) as conn:
        [(fetch_id, page)] = stored_pages(conn, [_fetch_id(db_path, doc.url)]).items()
    assert (page.url, page.final_url, page.source_name, page.ok) == (doc.url, doc.url, "test", True)
    assert page.html == doc.fetch.html and page.page_sha1 == doc.fetch.page_sha1
    assert page.fetched_at == doc.fetch.fetched_at
    assert page.item is not None and page.item.feed_entry is None


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_a_reclean_makes_a_new_version_without_a_sighting(db_path, tmp_path, backend):
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    url = "https://a.example/news/1"
    _load(db_path, [_doc(url, REPORT + " Share this article")])
    fetch_id = _fetch_id(db_path, url)
    seen = "SELECT first_seen_at, last_seen_at FROM articles"
    before = _rows(db_path, seen)
    counts = _reclean(db_path, [(fetch_id, _doc(url, REPORT))])
    assert (counts.new, counts.updated, counts.unchanged, counts.fetched) == (0, 1, 0, 0)
    assert _rows(db_path, seen) == before
    assert _rows(db_path, "SELECT version, text LIKE '%Share this%', fetch_id FROM articles") == [
        (2, False, fetch_id)
    ]
    assert _rows(db_path, "SELECT version, fetch_id FROM article_versions ORDER BY 1") == [
        (1, fetch_id),
        (2, fetch_id),
    ]
    assert _rows(db_path, "SELECT count(*) FROM fetches") == [(1,)]
    assert _reclean(db_path, [(fetch_id, _doc(url, REPORT))]).unchanged == 1
    assert _rows(db_path, seen) == before
    assert check_warehouse(db_path) == []


def test_a_reclean_keeps_a_stored_headline_the_page_does_not_give(db_path):
    """A Google News sitemap's <news:title> gave a page without a headline its title, before
    newsflow stored such entries: the page read again gives none, and the article keeps its own."""
    from dataclasses import replace

    url = "https://a.example/news/1"
    _load(db_path, [_doc(url, REPORT, title="Qala-i-Naw falls (from the sitemap)")])
    fetch_id = _fetch_id(db_path, url)
    untitled = replace(_doc(url, REPORT), title=None, author="Staff reporter")
    assert _reclean(db_path, [(fetch_id, untitled)]).unchanged == 1
    assert _rows(db_path, "SELECT version, title, author FROM articles") == [
        (1, "Qala-i-Naw falls (from the sitemap)", "Staff reporter")
    ]


def test_a_url_rejected_before_becomes_an_article_seen_when_it_was(db_path):
    url = "https://a.example/news/1"
    rejected = _doc(url, "Read more")
    rejected.rejected_reason = "too_short"
    _load(db_path, [rejected, _doc("https://b.example/k", REPORT)])
    [(first, last)] = _rows(db_path, "SELECT first_seen_at, last_seen_at FROM rejected")
    counts = _reclean(db_path, [(_fetch_id(db_path, url), _doc(url, REPORT))])
    assert (counts.new, counts.duplicates) == (1, {"exact": 1})
    seen = f"SELECT first_seen_at, last_seen_at FROM articles WHERE url = '{url}'"
    assert _rows(db_path, seen) == [(first, last)]
    assert _rows(db_path, "SELECT count(*) FROM fetches") == [(2,)]
    again = _reclean(db_path, [(_fetch_id(db_path, url), _doc(url, REPORT))])
    assert (again.new, again.unchanged) == (0, 1)  # the page is now its article's


def test_a_page_read_as_rejected_now_or_fetched_again_since_changes_nothing(db_path):
    url = "https://a.example/news/1"
    _load(db_path, [_doc(url, REPORT)])
    first_fetch = _fetch_id(db_path, url)
    _load(db_path, [_doc(url, REPORT + " Updated.")])
    empty = _doc(url, "")
    empty.rejected_reason = "no_text"
    counts = _reclean(db_path, [(_fetch_id(db_path, url), empty)])
    assert (counts.rejected, counts.updated, counts.unchanged) == ({"no_text": 1}, 0, 0)
    assert _rows(db_path, "SELECT count(*) FROM rejected") == [(0,)]
    counts = _reclean(db_path, [(first_fetch, _doc(url, "An older reading."))])
    assert (counts.superseded, counts.updated, counts.unchanged) == (1, 0, 0)
    assert _rows(db_path, "SELECT version, text LIKE '%Updated.' FROM articles") == [(2, True)]


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_a_reclean_takes_a_publication_time_read_now_and_has_the_events_read_again(
    db_path, tmp_path, backend
):
    """The fast mode found no date on a page, the thorough one does: read again with the same
    text and headline, the article takes it, and its capture events (dated by it) are pending
    again. A page read again without a date keeps the stored one."""
    from dataclasses import replace

    from warehouse.summaries import pending_article_ids

    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    url = "https://a.example/news/1"
    undated = replace(_doc(url, REPORT), published_at=None, published_offset=None)
    _load(db_path, [undated])
    fetch_id = _fetch_id(db_path, url)
    with writer(db_path) as conn:  # what the summarize flow records once it read the article
        conn.execute(
            "INSERT INTO event_extractions SELECT id, text_hash, version, 'rules', 1, 0, 0, "
            "now() FROM articles"
        )
    assert pending_article_ids(db_path, "rules") == []
    assert _reclean(db_path, [(fetch_id, _doc(url, REPORT))]).unchanged == 1
    published = datetime(2021, 8, 13, 6, 30, tzinfo=UTC)
    columns = "version, published_at, published_offset"
    assert _rows(db_path, f"SELECT {columns} FROM articles") == [(1, published, "+04:30")]
    assert len(pending_article_ids(db_path, "rules")) == 1
    assert _reclean(db_path, [(fetch_id, undated)]).unchanged == 1
    assert _rows(db_path, f"SELECT {columns} FROM articles") == [(1, published, "+04:30")]


def test_a_feed_entry_edited_by_its_feed_is_kept_as_it_reads_now(db_path):
    """The feed corrected an entry's title (same guid and link): the row kept the first title,
    the one a page without its own fills its gaps with. Its first sighting and time stay."""
    published = datetime(2021, 8, 12, 9, tzinfo=UTC)
    first = FeedEntry("https://f.example/rss", "k-1", "feed", "https://f.example/a",
                      "Feed title cnn", "A summary.", None, published)  # fmt: skip
    assert write_batch(db_path, feed_entries=[first]).feed_entries == 1
    [(seen,)] = _rows(db_path, "SELECT first_seen_at FROM feed_entries")
    edited = FeedEntry(**{**first.__dict__, "title": "Kandahar falls", "author": "A. Writer",
                          "published_at": datetime(2021, 8, 13, tzinfo=UTC)})  # fmt: skip
    assert write_batch(db_path, feed_entries=[edited]).feed_entries == 0  # none new
    assert _rows(
        db_path, "SELECT title, author, published_at, first_seen_at FROM feed_entries"
    ) == [("Kandahar falls", "A. Writer", datetime(2021, 8, 12, 9, tzinfo=UTC), seen)]


def _story_of(db_path: str, url_part: str) -> tuple:
    return _rows(
        db_path,
        "SELECT s.url, a.duplicate_kind FROM articles a JOIN articles s ON s.id = a.cluster_id "
        f"WHERE a.url LIKE '%{url_part}%'",
    )[0]


def test_a_copy_whose_url_now_holds_another_article_leaves_its_story(db_path):
    """A URL reused for another text: its new version is filed where that text belongs, not kept
    an `exact` copy of a story it no longer tells (QA: a search for its words found the old
    story alone); an edit keeps its story."""
    _load(db_path, [_doc("https://a.example/news/1", REPORT), _doc("https://b.example/k", OTHER)])
    _load(db_path, [_doc("https://mirror.example/1", REPORT.upper())])
    _load(db_path, [_doc("https://mirror.example/2", REPORT.upper())])
    assert _story_of(db_path, "mirror.example/1") == ("https://a.example/news/1", "exact")

    counts = _load(db_path, [_doc("https://mirror.example/1", _syndicated(REPORT))])  # an edit
    assert counts.updated == 1
    assert _story_of(db_path, "mirror.example/1") == ("https://a.example/news/1", "exact")

    _load(db_path, [_doc("https://mirror.example/1", OTHER.upper(), title="Airport shelled")])
    assert _story_of(db_path, "mirror.example/1") == ("https://b.example/k", "exact")
    unrelated = "Local elections were held peacefully across the valley on Sunday. " * 12
    _load(db_path, [_doc("https://mirror.example/2", unrelated, title="Elections held")])
    assert _story_of(db_path, "mirror.example/2") == ("https://mirror.example/2", None)
    assert _rows(db_path, "SELECT count(*) FROM stories") == [(3,)]
    assert check_warehouse(db_path) == []


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_a_story_whose_first_article_moved_away_keeps_its_copies(db_path, tmp_path, backend):
    """The story's first article now holds another text: its copies keep their story, rooted at
    the earliest of them, and a copy arriving later still finds it, through the band index, on
    the exact copy's signature, which it had no need of before."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load(db_path, [_doc("https://a.example/news/1", REPORT)])
    _load(db_path, [_doc("https://mirror.example/copy", REPORT.upper())])
    _load(db_path, [_doc("https://a.example/news/1", OTHER, title="Kandahar airport shelled")])
    assert _story_of(db_path, "a.example/news/1") == ("https://a.example/news/1", None)
    assert _story_of(db_path, "mirror.example") == ("https://mirror.example/copy", None)

    counts = _load(db_path, [_doc("https://wire.example/story", _syndicated(REPORT))])
    assert counts.duplicates == {"near": 1}
    assert _story_of(db_path, "wire.example") == ("https://mirror.example/copy", "near")
    stories = "SELECT url, copies FROM stories ORDER BY url"
    assert _rows(db_path, stories) == [
        ("https://a.example/news/1", 1),
        ("https://mirror.example/copy", 2),
    ]
    if backend == "duckdb":
        assert check_warehouse(db_path) == []


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_run_whose_warehouse_goes_mid_run_writes_no_other_one(db_path, tmp_path, how):
    """QA deleted the file mid-run: the next load made an empty warehouse, and the run reported
    every article loaded while most were gone. A later load of the run now fails, saying so,
    and makes no file; one that finds another warehouse in its place writes nothing to it."""
    from pathlib import Path

    write_batch(db_path, run_id="run-1", documents=[], prints=[])
    Path(db_path).unlink()
    if how == "replaced":
        write_batch(db_path, run_id="another-run", documents=[], prints=[])
    doc = _doc("https://a.example/news/1", REPORT)
    with pytest.raises(WarehouseError, match=f"warehouse {db_path} was {how} during the run"):
        write_batch(db_path, run_id="run-1", fetches=[doc.fetch], documents=[doc],
                    prints=fingerprints([doc]))  # fmt: skip
    assert Path(db_path).exists() == (how == "replaced")
    if how == "replaced":
        assert _rows(db_path, "SELECT count(*) FROM fetches") == [(0,)]
    write_batch(db_path, run_id="run-2", documents=[], prints=[])  # another run: its own


def test_a_text_a_page_held_until_this_batch_is_no_copy_of_that_page(db_path):
    """In one batch a page takes another text while a new page takes its old one, and two pages
    swap texts: the old texts are no longer where they were stored. The new page was filed as
    an `exact` copy of the page that no longer held its text, and the swapped pages made each
    other's stories, each shown by the other's headline (QA)."""
    unrelated = "Local elections were held peacefully across the valley on Sunday. " * 12
    _load(db_path, [
        _doc("https://a.example/p", REPORT),
        _doc("https://a.example/r", OTHER, title="Airport shelled"),
        _doc("https://b.example/s", unrelated, title="Elections held"),
    ])  # fmt: skip
    market = (
        "Traders in the old bazaar said prices of flour and cooking oil doubled this week. " * 10
    )
    _load(db_path, [
        _doc("https://a.example/p", market, title="Prices double"),
        _doc("https://c.example/q", REPORT),  # p's old text
        _doc("https://a.example/r", unrelated, title="Elections held"),  # r and s swap
        _doc("https://b.example/s", OTHER, title="Airport shelled"),
    ])  # fmt: skip
    assert _story_of(db_path, "c.example/q") == ("https://c.example/q", None)
    assert _story_of(db_path, "a.example/r")[0] == "https://a.example/r"
    assert _story_of(db_path, "b.example/s")[0] == "https://b.example/s"
    # each story shown by an article of its own that holds its text
    assert _rows(db_path, "SELECT count(*) FROM articles a JOIN articles k ON k.id = a.cluster_id "
                 "WHERE k.cluster_id <> k.id") == [(0,)]  # fmt: skip
    assert check_warehouse(db_path) == []
