"""Tests for the clean stage: text scrapes, HTML pages, rejections, normalisation, quality gates."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st
from trafilatura.utils import load_html

from tasks.clean import clean_batch, clean_documents
from tasks.extraction import (
    _BOILERPLATE_RULES,
    _author_names,
    _broad_run_can_add,
    _CleanTimeout,
    _headline_within,
    _page_lines,
    _parse_html,
    _short_site_name,
    _site_name,
    _time_limit,
    _with_final_marks,
    _zone_evidence,
    clean_html,
    clean_page,
    clean_text_scrape,
    local_day,
    normalize_text,
    read_publication_time,
    strip_site_name,
    text_language,
)
from tasks.records import FeedEntry, FetchResult, WorkItem
from tasks.settings import ExtractionMode, usable_cores

BASELINE = Path(__file__).with_name("extraction_baseline.json")
SEED = "seed/000_cf0c220304eb5a48.txt"
DATES = Path("dates/mediacloud-2020/test_set")
SEED_TITLE = (
    "Taliban claims capture of Afghanistan's 2nd-largest city Kandahar as govt forces "
    "reportedly withdraw (VIDEOS)"
)
ARTICLE_HTML = """<html lang="en-GB"><head>
<title>Kabul airport reopens to flights - Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2021-08-16T09:30:00+04:30">
<link rel="canonical" href="/world/kabul-airport"></head>
<body><article><h1>Kabul airport reopens to flights</h1>
<p>Commercial flights resumed at Kabul airport on Monday morning after a day of chaos on the
runway, officials said, as thousands of people tried to board the few planes leaving.</p>
<p>The airport had been closed to civilian traffic since Sunday evening, when crowds breached
the perimeter fence and spilled onto the apron, forcing departing aircraft to abort.</p>
<p>Follow us on Twitter @examplenews and on Facebook.</p>
</article></body></html>"""
COOKIE_WALL_HTML = """<html><head><title>Before you continue</title></head><body><div>
<p>We use cookies and data to deliver and maintain our services and measure audience
engagement. Accept all cookies or reject all cookies to continue to the site.</p>
<button>Accept all</button><button>Reject all</button></div></body></html>"""


def _fetch(body: str, url: str, content_type: str, **fields) -> FetchResult:
    return FetchResult(
        url=url,
        source_name="test",
        outcome="ok",
        final_url=url,
        status=200,
        content_type=content_type,
        html=body,
        **fields,
    )


def _corpus_page(corpus: Path, case: str) -> str:
    path = corpus / "extraction" / "readability" / "pages" / case / "source.html.gz"
    return gzip.decompress(path.read_bytes()).decode("utf-8")


# --- the founding article -------------------------------------------------------------------


def test_founding_article_scrape_is_cleaned(corpus):
    doc = clean_text_scrape((corpus / SEED).read_text(encoding="utf-8"), "file:///seed.txt", "seed")
    assert doc.rejected_reason is None
    assert doc.title == SEED_TITLE  # typographic apostrophe folded to ' in titles only
    assert doc.published_at == datetime(2021, 8, 12, 16, 21, tzinfo=UTC)
    assert doc.published_offset is None  # the dateline states no zone; read as UTC
    assert doc.text.startswith("The Taliban has reportedly made major advances in Kandahar")
    assert doc.text.endswith("cover the cost of plane tickets.")
    assert "icon" not in doc.text.split("\n")[0]
    assert "Also on" not in doc.text
    assert "Share this story" not in doc.text and "Think your friends" not in doc.text
    assert "2nd-largest city Kandahar" not in doc.text  # the repeated headline lines are gone
    assert "city’s center" in doc.text  # body text keeps its typography


RT_DATELINE = "Published time: 12 Aug, 2021 16:21 Edited time: 12 Aug, 2021 18:00"


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


@pytest.mark.parametrize(
    ("dateline", "utc", "offset"),
    [
        ("9 Aug, 2021 08:10 +04:30", _utc(2021, 8, 9, 3, 40), "+04:30"),
        (RT_DATELINE, _utc(2021, 8, 12, 16, 21), None),
        ("12 Aug, 2021 16:21 / Updated 2 hours ago", _utc(2021, 8, 12, 16, 21), None),
        ("Updated: August 15, 2021 at 09:30 GMT", _utc(2021, 8, 15, 9, 30), "+00:00"),
        ("2021-08-13T10:00:00+04:30", _utc(2021, 8, 13, 5, 30), "+04:30"),
        # shapes whose line was dropped as a date while its date was not read (QA)
        ("Thu 12 Aug 2021 10.29 BST", _utc(2021, 8, 12, 9, 29), "+01:00"),
        ("Thursday, August 12, 2021", _utc(2021, 8, 12), None),
        ("Aug. 12, 2021, 4:21 p.m. ET", _utc(2021, 8, 12, 16, 21), None),  # ET: its own time
        ("12 August 2021 at 16:21 GMT+4:30", _utc(2021, 8, 12, 11, 51), "+04:30"),
        ("12.08.2021", _utc(2021, 8, 12), None),
        ("2021/08/12", _utc(2021, 8, 12), None),
        ("13/08/2021 16:21", _utc(2021, 8, 13, 16, 21), None),  # the day is the part over 12
        ("08/13/2021", _utc(2021, 8, 13), None),
        # QA's second round: seconds, ordinals, a zone in brackets, ISO with a space
        ("14 Aug 2021 16:21:33", _utc(2021, 8, 14, 16, 21), None),
        ("August 15th, 2021", _utc(2021, 8, 15), None),
        ("12 Aug 2021 16:21 (GMT)", _utc(2021, 8, 12, 16, 21), "+00:00"),
        ("2021-08-12 16:21 +04:30", _utc(2021, 8, 12, 11, 51), "+04:30"),
        # no zone is 24 hours off (the page failed as clean_error); "16:21 AM" is 16:21
        ("12 Aug 2021 16:21 GMT+24", _utc(2021, 8, 12, 16, 21), None),
        ("12 Aug 2021 16:21 AM", _utc(2021, 8, 12, 16, 21), None),
    ],
)
def test_scrape_dateline_gives_the_publication_time(dateline, utc, offset):
    scrape = f"{dateline}\n\nHerat falls to the Taliban\n\n{'The city fell on Thursday. ' * 10}"
    doc = clean_text_scrape(scrape, "file:///s.txt")
    assert (doc.published_at, doc.published_offset) == (utc, offset)
    assert doc.title == "Herat falls to the Taliban"
    assert dateline not in doc.text


SAVED_BODY = "<p>" + "The Taliban captured Herat on Friday after weeks of fighting. " * 8 + "</p>"


@pytest.mark.parametrize(
    ("head", "canonical"),
    [
        (  # a relative canonical under <base href>: it was resolved to a file:// URL, dropped
            '<base href="https://www.asiawire.example/">'
            '<link rel="canonical" href="/news/2021/08/13/herat">',
            "https://www.asiawire.example/news/2021/08/13/herat",
        ),
        ("", "https://www.asiawire.example/news/x"),  # the address Chrome says it was saved from
        # QA's second round: a relative canonical is from the saved-from address (that address
        # replaced it); a protocol-relative one is https (it read as file://host/…, dropped)
        ('<link rel="canonical" href="/news/canon">', "https://www.asiawire.example/news/canon"),
        (
            '<link rel="canonical" href="//www.asiawire.example/b">',
            "https://www.asiawire.example/b",
        ),
    ],
)
def test_a_saved_page_is_at_its_canonical_or_the_address_it_was_saved_from(head, canonical):
    """A saved page's site and canonical URL come from where it was on the web (QA: it had
    neither, so it counted as a site of its own, its source's name)."""
    html = (
        "<!DOCTYPE html>\n<!-- saved from url=(0034)https://www.asiawire.example/news/x -->\n"
        f"<html><head>{head}<title>Herat falls</title></head>"
        f"<body><article><h1>Herat falls</h1>{SAVED_BODY}</article></body></html>"
    )
    saved = clean_html(html, "file:///home/analyst/saved/herat.html")
    assert (saved.canonical_url, saved.site_name) == (canonical, "asiawire.example")
    fetched = clean_html(html, "https://mirror.example/herat")  # on the web, its own address
    on_the_web = {"": None, '<link rel="canonical" href="/news/canon">': (
        "https://mirror.example/news/canon")}  # fmt: skip
    assert fetched.canonical_url == on_the_web.get(head, canonical)
    made_up = html.replace("https://www.asiawire.example/news/x", "http://localhost")
    if not head:  # Internet Explorer's mark of a page from nowhere: no address
        assert clean_html(made_up, "file:///home/analyst/saved/herat.html").canonical_url is None


@pytest.mark.parametrize("mode", list(ExtractionMode))
def test_a_short_chinese_headline_repeated_over_the_text_is_dropped(mode):
    """Eight characters are a whole Chinese headline: the rule that keeps a short line equal to
    a short title (`Home`) counted them as eight letters, and kept it atop the text (QA)."""
    title = "塔利班占领坎大哈"
    body = (
        "塔利班武装分子周四占领了阿富汗第二大城市坎大哈，政府军撤往机场。当地官员证实了这一消息。"
        * 6
    )
    html = (
        f'<html lang="zh"><head><meta charset="utf-8"><title>{title}</title></head><body>'
        f"<article><h1>{title}</h1>{f'<p>{body}</p>' * 3}</article></body></html>"
    )
    doc = clean_html(html, "https://news.example/zh/1", mode=mode)
    assert doc.title == title
    assert doc.text.startswith("塔利班武装分子"), doc.text[:40]


@pytest.mark.parametrize("dateline", ["12/08/2021", "12 Marines 2021"])
def test_a_slashed_date_either_way_round_or_a_word_like_a_month_is_no_publication_time(dateline):
    """12/08/2021 is 12 August in London and 8 December in New York: not guessed; "Marines"
    is no March (it was read as 12 March)."""
    scrape = f"{dateline}\n\nHerat falls to the Taliban\n\n" + "The city fell on Thursday. " * 10
    assert clean_text_scrape(scrape, "file:///s.txt").published_at is None


@pytest.mark.parametrize(
    "datelines",
    [
        ["Updated: 15 Aug, 2021 09:00", "Published: 12 Aug, 2021 16:21"],
        ["Published: 12 Aug, 2021 16:21", "Updated: 15 Aug, 2021 09:00"],
        ["Updated on August 15, 2021", "August 12, 2021 16:21"],
    ],
)
def test_scrape_date_is_the_published_line_not_the_update(datelines):
    scrape = "\n".join([*datelines, "Herat falls to the Taliban", "The city fell. " * 10])
    doc = clean_text_scrape(scrape, "file:///s.txt")
    assert doc.published_at == _utc(2021, 8, 12, 16, 21)
    assert "Updated" not in doc.text


REPORTING = [
    "The Taliban told residents to follow them on Telegram for updates on the curfew.",
    "Officials said the airport can be reached at dawn only by the northern road.",
    "The movement publishes a daily newsletter for its fighters, a commander said.",
    "10 p.m.",  # a live-blog time heading, not a dateline
]
FURNITURE = [
    "READ MORE: Taliban take Herat",
    "Follow us on Twitter @examplenews and on Facebook.",
    "Get the latest updates right in your inbox. Subscribe to our newsletters.",
    "Updated: Tue., Aug. 17, 2021 at 1:23 p.m. EDT",
    "(Reporting by A. Writer; Editing by B. Editor)",
    "Like this story? Share it with a friend!",
]


def test_boilerplate_rules_drop_furniture_and_keep_reporting():
    lines = ["Kabul under curfew", *REPORTING, *FURNITURE, "The curfew was lifted on Monday."]
    doc = clean_text_scrape("\n\n".join(lines), "file:///k.txt")
    assert doc.text.split("\n") == [*REPORTING, "The curfew was lifted on Monday."]


# The tagged-teaser rule as it was first written: it tried every word character as a start, so
# a line without a tag cost time in the square of its length.
TAGGED_TEASER_UNANCHORED = re.compile(r"\w.{8,}\[(?:[A-Z]{3,}|video|pictures|photos|poll)\]\s*\|?$")


TEASER_PIECES = ["a", "Z", "é", "_", " ", "-", "\n", "|", "[", "]", "[POLL]", "VIDEO", "[video]"]


@given(st.lists(st.sampled_from(TEASER_PIECES), max_size=40).map("".join))
def test_tagged_teaser_rule_matches_where_its_unanchored_form_does(text):
    rule = _BOILERPLATE_RULES["tagged_teaser"]
    assert bool(rule.search(text)) == bool(TAGGED_TEASER_UNANCHORED.search(text))


def test_tagged_teaser_rule_costs_time_in_proportion_to_the_line():
    """A line with no tag at its end is ruled out in one pass: 50 000 characters of it took
    the unanchored form 0.9 s of CPU, and a clean meets such lines (up to 60 words) on every
    page."""
    rule = _BOILERPLATE_RULES["tagged_teaser"]
    assert rule.search("Plague fears: holidaymakers die [INSIGHT]")
    assert rule.search("\nBrexit talks resume in Brussels [VIDEO] |")
    assert not rule.search("Short [VIDEO]")
    started = time.process_time()
    assert not rule.search("words and [brackets] " * 2500)
    assert time.process_time() - started < 0.05


def test_clean_page_dispatches_text_scrape_by_content_type(corpus):
    body = (corpus / SEED).read_text(encoding="utf-8")
    fetch = _fetch(body, "http://127.0.0.1/seed", "text/plain; charset=utf-8")
    fetch.url = "http://127.0.0.1/seed-redirect"
    doc = clean_page(fetch)
    assert doc.fetch is fetch
    assert doc.url == "http://127.0.0.1/seed"  # the final URL, not the requested one
    assert doc.title == SEED_TITLE
    assert doc.language == "en"  # a scrape declares none: its text says it


# --- languages ------------------------------------------------------------------------------


KABUL_FA = "طالبان شهر غزنی را تصرف کردند و مقامات محلی گفتند که جنگ در اطراف شهر ادامه دارد. "
KABUL_PS = "طالبانو د غزني ښار ونیو او سیمه ییزو چارواکو وویل چې جګړه د ښار شاوخوا روانه ده. "
KABUL_HE = "הטליבאן כבשו את העיר גאזני ביום חמישי לאחר קרבות קשים עם כוחות הממשלה, כך אמרו פקידים. "
KABUL_ZH_HANT = "塔利班週四在與政府軍激烈交戰後佔領了加茲尼市，官員們說戰鬥仍在城市周圍繼續進行。"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (" ".join(["Taliban fighters captured Ghazni on Thursday, officials said."] * 5), "en"),
        (KABUL_FA * 3, "fa"),  # Dari is written as Persian: CLD2 names it fa
        (KABUL_PS * 3, "ps"),
        ("Taliban fighters captured Ghazni. " * 300 + KABUL_FA * 300, "en"),  # its first 10 000
        (KABUL_HE * 3, "he"),  # CLD2's "iw"
        (KABUL_ZH_HANT * 6, "zh"),  # CLD2's "zh-Hant"
        ("Taliban fighters captured Ghazni on Thursday.", None),  # too short to be sure of
        ("abc def ghi jkl " * 10, None),  # CLD2 is sure that this is Wolof
        ("ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾ ᛁᛃᛇᛈ ᛉᛊᛏᛒ ᛖᛗᛚᛜ ᛞᛟ " * 12, None),  # a script, no language: "xx-Runr"
        ("Kabul\x01 " + " ".join(["Taliban fighters captured Ghazni."] * 8), "en"),
        ("\ud800 " + " ".join(["Taliban fighters captured Ghazni."] * 8), None),
    ],
)
def test_the_language_is_the_texts(text, language):
    assert text_language(text) == language


def test_a_pages_language_is_its_texts_not_its_content_systems_default(corpus):
    """10 of the dates corpus's 172 declared pages said lang="en" over text in another language
    (a content system's default), and 22 declared nothing; CLD2 reads the text itself."""
    for name, declared, language in [
        ("1561643340.html.gz", "en", "gu"),  # Gujarati
        ("1577247412.html.gz", "en", "ka"),  # Georgian
        ("1579090372.html.gz", "en", "sq"),  # Albanian
    ]:
        html = gzip.decompress((corpus / DATES / name).read_bytes()).decode()
        assert f'lang="{declared}' in html[:3000].replace("'", '"'), name
        assert clean_html(html, "https://news.example/a").language == language, name


# --- HTML pages -----------------------------------------------------------------------------


def test_html_article_metadata_and_text():
    doc = clean_page(_fetch(ARTICLE_HTML, "https://news.example.com/a?id=1", "text/html"))
    assert doc.rejected_reason is None
    assert doc.title == "Kabul airport reopens to flights"
    assert doc.site_name == "Example News"
    assert doc.language == "en"
    assert doc.canonical_url == "https://news.example.com/world/kabul-airport"
    assert doc.published_at == datetime(2021, 8, 16, 5, 0, tzinfo=UTC)
    assert doc.published_offset == "+04:30"
    assert local_day(doc.published_at, doc.published_offset) == "2021-08-16"


@pytest.mark.parametrize("mode", list(ExtractionMode))
def test_a_header_date_in_a_zone_dateutil_does_not_know_prints_no_warning(mode):
    """htmldate, reading the day of such a header date with dateutil, printed dateutil's
    "UnknownTimezoneWarning: tzname GST identified but not understood" (two lines) on the
    console mid-run: pages of a Gulf paper in the dates corpus have it. The day is still read."""
    page = ARTICLE_HTML.replace(
        '<meta property="article:published_time" content="2021-08-16T09:30:00+04:30">',
        '<meta name="last-modified" content="2021-08-16 09:30:00 GST">',
    )
    with warnings.catch_warnings(record=True) as caught:
        doc = clean_page(_fetch(page, "https://news.example.com/a?id=1", "text/html"), mode=mode)
    assert [str(warning.message) for warning in caught] == []
    assert doc.published_at is not None and doc.published_at.date() == date(2021, 8, 16)


@pytest.mark.parametrize("mode", list(ExtractionMode))
def test_a_canonical_link_urllib_cannot_take_apart_is_passed_over_not_the_page(mode):
    """A canonical link with an unclosed IPv6 literal made urllib raise ValueError: the page was
    rejected as clean_error, its article lost. Now the next declaration (og:url) is taken."""
    broken = '<link rel="canonical" href="http://[broken/x">'
    og_url = '<meta property="og:url" content="https://news.example.com/world/kabul-airport">'
    page = ARTICLE_HTML.replace('<link rel="canonical" href="/world/kabul-airport">', broken)
    page = page.replace("</head>", og_url + "</head>")
    doc = clean_page(_fetch(page, "https://news.example.com/a?id=1", "text/html"), mode=mode)
    assert doc.rejected_reason is None
    assert doc.title == "Kabul airport reopens to flights"
    assert doc.canonical_url == "https://news.example.com/world/kabul-airport"
    assert doc.text.startswith("Commercial flights resumed")
    assert "Follow us" not in doc.text
    assert "reopens to flights" not in doc.text  # the h1 is the title, not the body


@pytest.mark.parametrize(
    "page",
    [
        ARTICLE_HTML,
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "/x.dtd">\n<html><body><p>Doctype</p>',
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>Déclaré</p></body></html>',
        "<html/>\n<body><p>Self-closed root</p></body>",
        "<p>A fragment that does not say it is HTML</p>",
        "<div><p>A fragment</p></div><div><p>with two blocks</p></div>",
        "<html><body><form><input name='q' value='1'><label>Search</label></form></body></html>",
        "<html><body><!-- a comment --><p>Text\x0b with \x00 control characters</p></body></html>",
    ],
)
def test_page_parser_builds_the_tree_trafilatura_builds(page):
    """_parse_html is trafilatura's load_html with a faster parser: the same tree, or None."""
    ours, theirs = _parse_html(page, "https://example.org/"), load_html(page)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert lxml.html.tostring(ours) == lxml.html.tostring(theirs)


def test_page_tree_elements_get_their_class_without_a_call_into_python(monkeypatch):
    """lxml.html's parsers pick each element's class in a Python method, called whenever Python
    code reaches an element it has not held (each copy and walk of the tree, in the extractors
    too): the page's tree must not."""
    calls = []
    lookup = lxml.html.HtmlElementClassLookup.lookup

    def counted(self, *args):
        calls.append(args)
        return lookup(self, *args)

    monkeypatch.setattr(lxml.html.HtmlElementClassLookup, "lookup", counted)
    tree = _parse_html(ARTICLE_HTML, "https://example.org/")
    elements = list(tree.iter())
    assert len(elements) > 10
    assert {type(element) for element in elements} == {lxml.html.HtmlElement}
    assert calls == []


def test_zone_evidence_reads_offsets_and_zone_names_as_whole_tokens():
    """The page-wide scans for time zones: a one-digit hour still yields its minutes:seconds
    stamp, names count only as whole words, and the most frequent zone comes first."""
    page = (
        "<p>Posted 4:00:00 -0600, 12:30 GMT+04:30. Updated 10:00 EST and 11:15 EST.</p>"
        "<p>Not stamps: ZEST, mCEST, mCEST, mCEST, AESTX, CEST2,"
        " 1:05 +0100, 1:05 +0100 and 1:05 +0100.</p>"
    )
    assert _zone_evidence(page) == [
        timedelta(hours=-5),  # EST, twice
        timedelta(hours=-6),  # the first seen of the two zones stated once
        timedelta(hours=4, minutes=30),
    ]


def test_page_lines_break_at_blocks_not_at_inline_elements():
    """Block elements and <br> end lines; inline elements, and line breaks in the HTML source,
    do not; scripts, styles, comments and the head show no text."""
    page = load_html(
        "<html><head><title>Title</title><style>p {}</style></head><body><div>Intro <b>bold</b>"
        "\n text<p>One <a href='#'>link</a> here.</p><!-- note -->tail<br>after</div>"
        "<script>hidden()</script></body></html>"
    )
    lines = [" ".join(line.split()) for line in _page_lines(page)]
    assert lines == ["Intro bold text", "One link here.", "tail", "after"]


SENTENCES = [
    f"Sentence {n} of the report says the district fell to the Taliban on Friday." for n in range(5)
]
ARTICLE_PAGE = load_html(
    "<html><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
    + "".join(f"<p>{sentence}</p>" for sentence in SENTENCES)
    + "</article><footer><p>Copyright Example News, all rights reserved.</p></footer></body></html>"
)


@pytest.mark.parametrize(
    ("kept", "can_add"),
    [
        (SENTENCES, False),  # every sentence kept: the footer line is outside the article
        (SENTENCES[:2] + SENTENCES[3:], True),  # a sentence left out between kept lines
        (SENTENCES[1:], False),  # left out before the first kept line: never merged in
        (SENTENCES[:1], True),  # one line cannot be placed: run it
        ([], True),  # nothing found: the balanced run is the fallback
        (["A line that is not on the page at all, anywhere.", SENTENCES[0]], True),
    ],
)
def test_balanced_run_only_where_it_can_add_to_the_precise_run(kept, can_add):
    assert _broad_run_can_add(ARTICLE_PAGE, "\n".join(kept)) is can_add


def test_balanced_run_replaces_a_fragment():
    """A precise run that kept two short lines of a long page may be a fragment (the balanced run
    replaces one shorter than a quarter of its own), so the balanced run runs."""
    page = load_html(
        "<html><body><p>Kabul, Aug 15.</p><p>By staff.</p>"
        + "".join(f"<div>{sentence}</div>" for sentence in SENTENCES)
        + "</body></html>"
    )
    assert _broad_run_can_add(page, "Kabul, Aug 15.\nBy staff.") is True


BREITBART_TITLE = (
    "'Neutral' Snopes Fact-Checker David Emery: 'Are There Any Un-Angry Trump Supporters?'"
)


@pytest.mark.parametrize(
    ("case", "title"),
    [
        ("bbc-1", "Obama admits US gun laws are his 'biggest frustration'"),  # "… - BBC News"
        ("breitbart", BREITBART_TITLE),  # "… - Breitbart"
        ("aktualne", "West Ham hrozí gigantům, okouzlil i Linekera. Součka je snadné přehlédnout"),
        ("iab-1", "Getting LEAN with Digital Ad UX"),  # "… | IAB"
    ],
)
def test_real_page_titles_lose_site_suffix(corpus, case, title):
    doc = clean_html(_corpus_page(corpus, case), f"https://example.org/{case}")
    assert doc.title == title
    assert doc.rejected_reason is None


@pytest.mark.parametrize(
    ("page", "title"),
    [  # a section's name, and a site's name in another script than its host's
        (DATES / "1564888577.html.gz", "是你嗎？ 1-2月期發票千萬獎開出18張"),  # "… - 自由財經"
        (DATES / "1641304459.html.gz", "ورود 50 هزار میلیارد تومان نقدینگی به بورس در 3 ماه"),
        ("guardian-1", "'What is the sea telling us?': Māori tribes fearful over whale strandings"),
        (DATES / "1523761669.html.gz", "Aktres, sunod-sunuran sa aktor BF"),  # og:title "| Aktres…"
        (  # a closing quote is no separator
            DATES / "1582946828.html.gz",
            "Coronavirus e isolamento, gli urologi: «La pigrizia danneggia la prostata, in casa "
            "allenatevi così»",
        ),
    ],
)
def test_a_title_is_the_headline_its_page_gives_without_what_is_around_it(corpus, page, title):
    """The <title> and og:title held a section's name ("自由財經" on 自由時報), a site's name in
    a script its host does not spell ("خبرگزاری آریا" on aryanews.com) or the columnist's; the
    page's h1 is the headline alone. An og:title began with a bar ("| Aktres, …")."""
    if isinstance(page, Path):
        html = gzip.decompress((corpus / page).read_bytes()).decode()
    else:
        html = _corpus_page(corpus, page)
    for mode in ExtractionMode:
        assert clean_html(html, "https://example.org/a", mode=mode).title == title, mode


@pytest.mark.parametrize(
    ("title", "headlines", "kept"),
    [
        ("Kabul airport reopens - World", ["Kabul airport reopens"], "Kabul airport reopens"),
        ("Section - Kabul airport reopens", ["kabul airport reopens!"], "Kabul airport reopens"),
        # a blog's name as its h1 is not the post's headline: the longer part is kept
        ("A post on a long day in Kabul - Our Blog Name Here", ["Our Blog Name Here"],
         "A post on a long day in Kabul - Our Blog Name Here"),
        ("Kabul - Herat - Kandahar", ["Kabul"], "Kabul - Herat - Kandahar"),  # too short
        ("Kabul airport reopens - World", [], "Kabul airport reopens - World"),
    ],
)  # fmt: skip
def test_headline_within_a_title(title, headlines, kept):
    assert _headline_within(title, headlines) == kept


def test_real_page_date_keeps_offset(corpus):
    doc = clean_html(
        _corpus_page(corpus, "bbc-1"), "https://www.bbc.com/news/world-us-canada-33646542"
    )
    assert doc.published_at == datetime(2015, 7, 24, 4, 36, 9, tzinfo=UTC)
    assert doc.published_offset == "+01:00"
    assert doc.site_name == "BBC News"
    assert "President Barack Obama" in doc.text


@pytest.mark.parametrize(
    ("case", "published"),
    [  # JSON-LD inside "<![CDATA[ … ]]>": its datePublished, not the update or a later meta
        ("spiceworks", datetime(2020, 7, 10, 14, 15, 42, tzinfo=UTC)),  # "Last Updated: 2025"
        ("medium-3", datetime(2015, 10, 15, 2, 19, 15, 607000, tzinfo=UTC)),
        ("schema-org-context-object", datetime(2024, 12, 6, 22, 0, 40, tzinfo=UTC)),
    ],
)
def test_real_page_date_comes_from_json_ld_in_cdata(corpus, case, published):
    doc = clean_html(_corpus_page(corpus, case), f"https://example.org/{case}")
    assert doc.published_at == published


@pytest.mark.parametrize(
    "case", ["mathjax", "data-url-image", "mozilla-1", "google-sre-book-1"]
)  # fmt: skip
def test_a_year_alone_is_no_publication_day(corpus, case):
    """htmldate's extensive search falls back on a copyright year or any four digits (mathjax's
    CSS class `mjx-c2026`, the code point of "…") and gives its 1 January: the thorough mode
    dated these pages 2026-01-01, 2024-01-01, 1998-01-01 and 2017-01-01; the fast mode, none."""
    html = _corpus_page(corpus, case)
    for mode in ExtractionMode:
        assert read_publication_time(html, f"https://example.org/{case}", mode) is None, mode


NEWS_ARTICLE_JSON = '{"@type": "NewsArticle", "datePublished": "2021-08-12T09:00:00+04:30"}'


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("<![CDATA[ ", " ]]>"), ("//<![CDATA[\n", "\n//]]>"), ("/* <![CDATA[ */ ", " /* ]]> */")],
)
def test_json_ld_in_a_cdata_wrapper_is_read(opening, closing):
    script = opening + NEWS_ARTICLE_JSON + closing
    html = (
        f'<html><head><script type="application/ld+json">{script}</script></head><body>'
        f"<article><p>{' '.join(['Taliban fighters entered Ghazni on Thursday.'] * 20)}</p>"
        "</article><p>Updated 14 September 2021</p></body></html>"
    )
    doc = clean_html(html, "https://example.com/news/ghazni")
    assert doc.published_at == datetime(2021, 8, 12, 4, 30, tzinfo=UTC)
    assert doc.published_offset == "+04:30"


WIKIPEDIA = "https://en.wikipedia.org/wiki/Mozilla"
REMEMBER = "Remember 80/90 - Memorabilia anni 80/90"  # a site name with a separator in it
LIGHTHOUSE = "ライトハウス国際特許事務所"
GUARDIAN, BBC, EXAMPLE = (
    "https://www.theguardian.com/x",
    "https://www.bbc.co.uk/x",
    "https://example.com/x",
)


@pytest.mark.parametrize(
    ("title", "url", "site", "expected"),
    [
        ("Floods hit Kabul | The Guardian", GUARDIAN, "the Guardian", "Floods hit Kabul"),
        ("Floods hit Kabul - BBC News", BBC, None, "Floods hit Kabul"),
        ("BBC News - Floods hit Kabul", BBC, None, "Floods hit Kabul"),
        ("Reuters - Reuters", "https://www.reuters.com/x", "Reuters", "Reuters - Reuters"),
        ("Apple - the quiet revolution", EXAMPLE, None, "Apple - the quiet revolution"),
        (
            "Taliban - a history in ten dates | Home",
            EXAMPLE,
            None,
            "Taliban - a history in ten dates",
        ),
        ("Mozilla - Wikipedia", WIKIPEDIA, None, "Mozilla - Wikipedia"),
        (
            "Cricket returns to Sydney - Sky News Australia",
            "https://sky.com/x",
            None,
            "Cricket returns to Sydney",
        ),
        (  # a headline that starts with the site's name is no site name
            "Take C.A.R.E. - comwrap auf der DMEXCO 2018",
            "https://blog.comwrap.com/x",
            None,
            "Take C.A.R.E. - comwrap auf der DMEXCO 2018",
        ),
        ("Kabul airport reopens - good news", EXAMPLE, None, "Kabul airport reopens - good news"),
        ("New Sentra is what we want - Auto News", EXAMPLE, None, "New Sentra is what we want"),
        (
            f"Black Friday per nostalgici - {REMEMBER}",
            EXAMPLE,
            REMEMBER,
            "Black Friday per nostalgici",
        ),
        (
            f"商品の改造が商標法違反に！？ - {LIGHTHOUSE}",
            EXAMPLE,
            LIGHTHOUSE,
            "商品の改造が商標法違反に！？",
        ),
        (  # a page of the dates corpus: a full-width bar, no spaces
            "乃木坂46・与田祐希“ちょんまげ＆すっぴんショット”公開「お気に入りの一枚」（2020年2月15日）"
            "｜BIGLOBEニュース",
            "https://news.biglobe.ne.jp/entertainment/0215/x.html",
            "BIGLOBEニュース",
            "乃木坂46・与田祐希“ちょんまげ＆すっぴんショット”公開「お気に入りの一枚」（2020年2月15日）",
        ),
    ],
)
def test_strip_site_name_never_eats_the_headline(title, url, site, expected):
    assert strip_site_name(title, url, site) == expected


def test_feed_entry_fills_what_the_page_lacks():
    entry = FeedEntry(
        feed_url="http://127.0.0.1/feed.xml",
        entry_key="k1",
        source_name="feed",
        link="http://127.0.0.1/a",
        title="Herat falls to the Taliban",
        summary=None,
        author="A. Writer",
        published_at=datetime(2021, 8, 13, 2, 0, tzinfo=UTC),
    )
    html = ARTICLE_HTML.replace('<meta property="article:published_time"', '<meta name="x"')
    html = html.replace("<title>Kabul airport reopens to flights - Example News</title>\n", "")
    html = html.replace("<h1>Kabul airport reopens to flights</h1>", "")
    item = WorkItem(url="http://127.0.0.1/a", source_name="feed", feed_entry=entry)
    doc = clean_page(_fetch(html, "http://127.0.0.1/a", "text/html", item=item))
    assert doc.title == "Herat falls to the Taliban"
    assert doc.author == "A. Writer"
    assert doc.published_at == datetime(2021, 8, 13, 2, 0, tzinfo=UTC)
    assert doc.published_offset is None  # the feed stage hands over UTC; the offset is unknown


@pytest.mark.parametrize(
    ("case", "author"),
    [
        ("lwn-1", "Nathan Willis"),  # byline "By Nathan Willis March 25, 2015"
        ("yahoo-3", "GILLIAN MOHNEY"),
        ("quanta-1", "Joshua Sokol"),
        ("simplyfound-1", "Joe Wee"),  # "Joe Wee Monday; February" before
        ("article-author-tag", "Laura June Topolsky"),  # a month inside a name stays
        ("spiceworks", None),  # byline "Last Updated: January 7, 2025": no one
    ],
)
def test_an_author_is_the_bylines_names_without_its_date(corpus, case, author):
    """trafilatura's byline search takes the date beside a name with it ("Nathan Willis March");
    Readability's expected bylines of these pages name these people (or only a date)."""
    for mode in ExtractionMode:
        doc = clean_html(_corpus_page(corpus, case), "http://example.com/a", mode=mode)
        assert doc.author == author, mode


@pytest.mark.parametrize(
    ("found", "names"),
    [
        ("Ashok Pradhan; TNN; Apr 7", "Ashok Pradhan; TNN"),
        ("Mike Wuerthele; Malcolm Owen Monday; November", "Mike Wuerthele; Malcolm Owen"),
        ("JERUSALEM POST STAFF NOVEMBER", "JERUSALEM POST STAFF"),
        ("Brian May", "Brian May"),  # a surname that is a month, not a date: one word would stay
        ("Jane Doe; John Roe", "Jane Doe; John Roe"),
        ("Last Updated January 7", None),
        # a web address beside the name, as trafilatura splits it (pages of the dates corpus)
        ("Sputnik https; Cdnarabic; I; Logo Png", "Sputnik"),
        ("Diario El Dia de La Plata www eldia com", "Diario El Dia de La Plata"),
        ("The W-Team Http; Www Jcigroup Com", "The W-Team"),
        ("Www Mrsadiq Info; Sadiq Məmmədov", "Sadiq Məmmədov"),
        ("Bradley M Kuhn http; Ebb Org; Bkuhn", "Bradley M Kuhn"),
        ("Www Example Com", None),
    ],
)
def test_author_names_drop_dates_and_web_addresses(found, names):
    assert _author_names(found) == names


@pytest.mark.parametrize(
    ("found", "names"),
    [  # as trafilatura reads them from pages of the two corpora
        ("Par AFP publié le; Mis À Jour À", "AFP"),
        ("Af Ritzau", "Ritzau"),
        ("Por Jornal O Papel", "Jornal O Papel"),
        ("Door NU nl", "NU nl"),
        ("Авторы Дмитрий Попов", "Дмитрий Попов"),
        ("Редактор Елин Димитров", "Елин Димитров"),
        ("Текст Лида Буслаева", "Лида Буслаева"),
        ("Piše P Mucović prije", "P Mucović"),
        ("Aleš Vávra před", "Aleš Vávra"),
        ("質問者： あいぎゅ", "あいぎゅ"),
        ("스포츠조선=선수민 기자", "스포츠조선=선수민"),
        ("@ Reuters", "Reuters"),
        ("Analysis by Chris Cillizza; CNN Editor-at-large", "Chris Cillizza; CNN Editor-at-large"),
        ("Phil Helsel is a reporter", "Phil Helsel"),
        ("Rob Ewaschuk Edited by Betsy Beyer", "Rob Ewaschuk"),
        ("Leonardo Castañeda; Gqlshare", "Leonardo Castañeda"),
        ("Jeffrey Gettleman; JEFFREY GETTLEMAN", "Jeffrey Gettleman"),
        ("Uppdaterad", None),
        ("Follow Author", None),
        ("作者", None),
        # names that start like a label, or hold one, stay whole
        ("Mark Di Stefano", "Mark Di Stefano"),
        ("Abigail Van Buren", "Abigail Van Buren"),
        ("Parker Doorley; Avery Textor", "Parker Doorley; Avery Textor"),
        ("Isabel Por", "Isabel Por"),
        # a station's tag before "By" (abc7ny.com); a "by" inside a name stays
        ("WABC By Eyewitness News", "Eyewitness News"),
        ("Stand By", "Stand By"),
        ("Ana Bywater", "Ana Bywater"),
    ],
)
def test_author_names_drop_a_bylines_labels(found, names):
    """A byline's labels in other languages than English stayed in articles.author: "Par AFP
    publié le; Mis À Jour À" for AFP."""
    assert _author_names(found) == names


@pytest.mark.parametrize(
    ("page", "author"),
    [  # trafilatura trimmed each name's final vowel sign: "चक्रवर्त", "ब्यूर", "कुटिन्ह"
        ("1521292139", "Business Standard; शुभायन चक्रवर्ती"),
        ("1579139187", "वाराणसी ब्यूरो"),
        ("1725202846", "Business Standard; ऐश्ली कुटिन्हो"),
    ],
)
def test_a_hindi_bylines_names_keep_their_final_vowel_signs(corpus, page, author):
    html = gzip.decompress((corpus / DATES / f"{page}.html.gz").read_bytes()).decode()
    for mode in ExtractionMode:
        assert clean_html(html, "https://example.org/a", mode=mode).author == author, mode


@pytest.mark.parametrize(
    ("author", "html", "kept"),
    [
        ("अमित", "<p>अमित शाह</p><p>अमिता</p>", "अमित"),  # written whole: another word not taken
        ("अमित", "<p>By अमिता</p>", "अमिता"),
        ("Jane Doe; अमित", "<p>अमिताभ</p>", "Jane Doe; अमित"),  # a letter follows: another name
        ("Jane Doe", "<p>Jane Doe\u0301</p>", "Jane Doe"),  # Latin names are taken as they are
        (None, "", None),
    ],
)
def test_names_take_the_combining_marks_the_page_writes_after_them(author, html, kept):
    assert _with_final_marks(author, html) == kept


@pytest.mark.parametrize(
    ("found", "site", "names"),
    [
        ("Mac; I", "Mac & i", "Mac & i"),  # heise's DC.creator, split by trafilatura at its "&"
        ("Johnson; Johnson", "Johnson & Johnson", "Johnson & Johnson"),
        ("Jane Doe; John Roe", "Jane Doe & John Roe Weekly", "Jane Doe; John Roe"),
        ("Noticia al Dia", "Noticia Al Dia", "Noticia al Dia"),  # no "&": as found
    ],
)
def test_a_byline_that_is_the_sites_name_is_the_sites_name(found, site, names):
    assert _author_names(found, site) == names


@pytest.mark.parametrize(
    ("found", "site"),
    [  # the first four as trafilatura reads them from pages of the dates corpus
        ("&amp;copy; 2016 aryanews.com", "aryanews.com"),
        ("Copyright, 2011, 2012, 2013, 2014 Daily Legal News, Inc.", "Daily Legal News, Inc."),
        ("(c) alarmeringen.nl - All rights reserved", "alarmeringen.nl"),
        ("Guinéenews©", "Guinéenews"),
        ("Copyright © 2019 Tolo News. All Rights Reserved.", "Tolo News"),
        ("Copyright 2014", None),  # a page of the AEB corpus: no name in it
        ("The Copyright Office", "The Copyright Office"),
        ("Mac &amp; i", "Mac & i"),
    ],
)
def test_a_site_name_is_the_name_without_a_copyright_notice(found, site):
    """The daily counts per site group by it: "(c) alarmeringen.nl - All rights reserved" was a
    site of its own."""
    assert _site_name(found) == site


def test_a_copyright_line_given_as_a_site_name_on_a_real_page(corpus):
    page = corpus / "dates" / "mediacloud-2020" / "test_set" / "1641304459.html.gz"
    doc = clean_html(gzip.decompress(page.read_bytes()).decode(), "https://www.aryanews.com/a")
    assert doc.site_name == "aryanews.com"  # "&amp;copy; 2016 aryanews.com" before


@pytest.mark.parametrize(
    ("found", "headlines"),
    [  # as pages of the dates corpus state them
        ("https://www.facebook.com/chosun", []),
        ("https://akhbarelyom.com/", []),
        (
            "1999-2005 Factoría de Chapela-Redondela 36320 PONTEVEDRA Galicia ESPAÑA "
            "Tel. +34 986814600 Fax +34 986814614",
            [],
        ),
        (
            "Отрезать голову во имя пророка. Теракт во Франции обнажил старые проблемы | В мире | "
            "Политика",
            ["Отрезать голову во имя пророка. Теракт во Франции обнажил старые проблемы"],
        ),
        ("Kandahar falls to the Taliban - A Blog", ["Kandahar falls to the Taliban - A Blog"]),
    ],
)
def test_what_is_no_site_name_gives_way_to_the_host(found, headlines):
    """A web address, a postal address with phone numbers, the page's headline: the daily tables
    showed them as the site (the page's host now stands in)."""
    assert _site_name(found, headlines) is None


@pytest.mark.parametrize(
    ("found", "headlines"),
    [
        ("Daily Legal News, Inc.", ["Daily Legal News"]),  # a short headline: the site's name
        ("Silicon Exposed", ["Silicon Exposed"]),
        (
            "Carnegie Endowment for International Peace",
            ["Carnegie Endowment for International Peace"],
        ),
        ("www.diariolibre.com", []),
        ("Radio 101.9", []),
        ("Radio 1 2020", []),  # a year beside a number is no phone number
    ],
)
def test_a_site_name_that_looks_like_a_headline_or_address_may_still_be_one(found, headlines):
    assert _site_name(found, headlines) == found


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("LinkNaija | Nigeria's popular news platform", "LinkNaija"),
        ("Autoracing | F1 | Indy | MotoGP | StockCar", "Autoracing"),
        ("Monroe News - Monroe, Michigan", "Monroe News"),
        ("Mozilla Hacks – the Web developer blog", "Mozilla Hacks"),
        ("Home | Kabul Now", "Kabul Now"),
        (
            "Информационное агентство Украинские Национальные Новости (УНН). Все онлайн новости "
            "дня в Украине за сегодня - самые свежие, последние.",
            "Информационное агентство Украинские Национальные Новости (УНН)",
        ),
        ("Bradley M. Kuhn ( Brad ) ( bkuhn )", "Bradley M. Kuhn ( Brad ) ( bkuhn )"),
        ("Neue Zürcher Zeitung AG, Schweiz", "Neue Zürcher Zeitung AG, Schweiz"),
        ("Pajhwok Afghan News", "Pajhwok Afghan News"),
        ("Jean-Pierre's Blog", "Jean-Pierre's Blog"),
        ("プレスリリース・ニュースリリース配信シェアNo.1｜PR TIMES", "PR TIMES"),
        ("BIGLOBEニュース｜", "BIGLOBEニュース"),
        (
            "خبرگزاری باشگاه خبرنگاران | آخرین اخبار ایران و جهان | Yjc",
            "خبرگزاری باشگاه خبرنگاران",
        ),
    ],
)
def test_a_site_name_is_kept_without_its_slogan(name, short):
    """The daily tables show a site by the name its pages give most: "Autoracing | F1 | Indy |
    MotoGP | StockCar" filled the column."""
    assert _short_site_name(name) == short


@pytest.mark.parametrize(
    ("page", "url", "site", "title"),
    [
        (
            "1694328145",
            "https://news.chosun.com/site/data/html_dir/2020/08/27/2020082704301.html",
            "news.chosun.com",  # "https://www.facebook.com/chosun" before
            None,
        ),
        (
            "1660064054",
            "https://blog.goo.ne.jp/umaichi_news/e/52743e20f825567d4e9889be58ec06b9",
            "blog.goo.ne.jp",  # the page's <title>, with the headline as the site's name
            "JRA競走に勝ったセール出身馬紹介(2020/7/11-12､ダノンスプレンダーなど18頭) - 【",
        ),  # the title was the blog's name alone: the headline was taken for the site's
        (
            "1786902045",
            "https://www.unn.com.ua/ru/news/1906059",
            "Информационное агентство Украинские Национальные Новости (УНН)",
            None,
        ),
    ],
)
def test_a_real_pages_site_name_is_a_name(corpus, page, url, site, title):
    path = corpus / "dates" / "mediacloud-2020" / "test_set" / f"{page}.html.gz"
    doc = clean_html(gzip.decompress(path.read_bytes()).decode(), url)
    assert doc.site_name == site
    if title:
        assert doc.title.startswith(title)


def _page_with_headings(head: str, body: str) -> str:
    text = " ".join(["Peanut allergy rates fell among infants fed peanut foods early."] * 8)
    return f"<html><head>{head}</head><body>{body}<article><p>{text}</p></article></body></html>"


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        (  # webmd-1 of the Readability pages: the lone <h1> is the section's name
            "<title>Babies Who Eat Peanuts Early May Avoid Allergy</title>",
            "<h1>Allergies Health Center</h1><h2>Babies Who Eat Peanuts Early May Avoid Allergy"
            "</h2>",
            "Babies Who Eat Peanuts Early May Avoid Allergy",
        ),
        (  # a site's name in <h1>, the headline an <h2> and the first part of <title>
            "<title>Conversations with a Cryptid - Chapter 1 - Archive</title>",
            "<h1>Archive of Our Own beta</h1><h2>Conversations with a Cryptid</h2>",
            "Conversations with a Cryptid",
        ),
        (  # no <title>: an og:title the page put in its body, not an advert's <h2>
            "",
            '<meta property="og:title" content="If You Can Picture A Tarot Card">'
            "<h1>The Deck of Cards</h1><h1>See Fewer Ads</h1>"
            '<h2 class="title">Take your next trip with Atlas Obscura!</h2>',
            "If You Can Picture A Tarot Card",
        ),
        (  # the usual page: its lone <h1> is <title>'s headline
            "<title>Kabul falls to the Taliban | Loopback News</title>",
            "<h1>Kabul falls to the Taliban</h1><h2>More from Loopback News</h2>",
            "Kabul falls to the Taliban",
        ),
        (  # no heading repeats <title>: the lone <h1> stands
            "<title>Loopback News</title>",
            "<h1>Kabul falls to the Taliban</h1>",
            "Kabul falls to the Taliban",
        ),
    ],
)
def test_a_page_without_a_stated_headline_takes_the_heading_its_title_names(head, body, title):
    """With no og:title or JSON-LD headline in <head>, trafilatura took a lone <h1>: the section's
    name on some sites ("Allergies Health Center" for five of the Readability pages' headlines)."""
    assert clean_html(_page_with_headings(head, body), "https://a.example/news/1").title == title


def _page_with_meta(
    meta: str, title: str = "Norwegian shares rise on 737 MAX hopes - sn.dk"
) -> str:
    body = " ".join(["Norwegian Air shares rose on hopes of compensation for the 737 MAX."] * 8)
    head = f"<head><title>{title}</title>{meta}</head>"
    return f"<html>{head}<body><article><p>{body}</p></article></body></html>"


HANDLE = '<meta name="twitter:site" content="@sndk_nyheder">'


@pytest.mark.parametrize(
    ("meta", "url", "site"),
    [
        (
            HANDLE + '<meta property="og:url" content="https://sn.dk/a/900368">',
            "file:///p.html",
            "sn.dk",
        ),
        (HANDLE, "https://www.sn.dk/a/900368", "sn.dk"),
        (HANDLE, "file:///p.html", "Sndk_Nyheder"),  # no address: the handle is all there is
        (
            HANDLE + '<meta property="og:site_name" content="Sjællandske Medier">',
            "https://sn.dk/a",
            "Sjællandske Medier",
        ),
    ],
)
def test_a_twitter_handle_is_the_site_name_only_when_no_host_is_known(meta, url, site):
    """A handle names one account, not the site ("@SputnikInt" and "@sputnik_ar" for one
    sputniknews.com), and reads badly once title-cased ("Sndk_Nyheder")."""
    assert clean_html(_page_with_meta(meta), url).site_name == site


def test_a_saved_page_title_loses_the_site_name_its_own_address_names(corpus):
    """A saved page's address is a file://; its canonical link says which site it is from."""
    page = corpus / "dates" / "mediacloud-2020" / "test_set" / "1718257353.html.gz"
    doc = clean_html(gzip.decompress(page.read_bytes()).decode(), "file:///saved/1718257353.html")
    assert doc.title == "Faenón de Toledo y Graña le costó S/1,400 millones al Estado peruano"
    page = corpus / "dates" / "mediacloud-2020" / "test_set" / "1485102321.html.gz"
    doc = clean_html(gzip.decompress(page.read_bytes()).decode(), "file:///saved/1485102321.html")
    assert doc.site_name == "theweek.com"  # "Theweek", from twitter:site "@theweek", before


# --- rejections ------------------------------------------------------------------------------


SCRIPT_ONLY_HTML = "<html><head><title>x</title></head><body><script>go()</script></body></html>"
STUB_HTML = (
    "<html><body><article><p>Kandahar has fallen, officials say.</p></article></body></html>"
)
JUNK_SCRAPE = "icon bookmark-bicon bookmarkicon cameraicon checkicon\nShare this story!\n"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("", "text/html", "no_text"),
        (SCRIPT_ONLY_HTML, "text/html", "no_text"),
        (COOKIE_WALL_HTML, "text/html", "not_article"),
        (STUB_HTML, "text/html", "too_short"),
        (JUNK_SCRAPE, "text/plain", "no_text"),
    ],
)
def test_unusable_pages_are_rejected_not_lost(body, content_type, reason, caplog):
    with caplog.at_level(logging.DEBUG):
        doc = clean_page(_fetch(body, "http://127.0.0.1/p", content_type))
    assert doc.rejected_reason == reason
    assert doc.rejected and doc.url == "http://127.0.0.1/p"
    # the reason is the row's: trafilatura's "discarding data: …" printed beside it was noise
    assert [r.getMessage() for r in caplog.records if r.name.startswith("trafilatura")] == []


def test_feed_summary_stands_in_for_a_walled_page():
    summary = (  # plain text, as the feed reader gives a summary (tasks/sources.py, _feed_text)
        "The Taliban took control of the presidential palace in Kabul on Sunday evening, after "
        "President Ashraf Ghani left the country, according to officials and witnesses who spoke "
        "to reporters in the capital."
    )
    entry = FeedEntry(
        feed_url="f",
        entry_key="k",
        source_name="feed",
        link="http://127.0.0.1/w",
        title="Kabul",
        summary=summary,
        author=None,
        published_at=None,
    )
    item = WorkItem(url="http://127.0.0.1/w", source_name="feed", feed_entry=entry)
    doc = clean_page(_fetch(COOKIE_WALL_HTML, "http://127.0.0.1/w", "text/html", item=item))
    assert doc.rejected_reason is None
    assert doc.text.startswith("The Taliban took control of the presidential palace")


# --- normalisation ---------------------------------------------------------------------------


PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u00a0b\r\nc\u200bd", "a b\ncd"),
        ("  line one  \n\n\n\n line two ", "line one\n\nline two"),
        ("cafe\u0301", "café"),
        (PERSIAN_WITH_ZWNJ, PERSIAN_WITH_ZWNJ),  # the zero-width non-joiner is spelling, kept
        ("tab\tand\u2003em", "tab and em"),
    ],
)
def test_normalize_text_examples(raw, expected):
    assert normalize_text(raw) == expected


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalize_text_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


# --- batches ---------------------------------------------------------------------------------


def test_clean_documents_keeps_order_skips_failures_and_pools(corpus):
    seed = (corpus / SEED).read_text(encoding="utf-8")
    fetches = []
    for i in range(10):
        fetches.append(_fetch(ARTICLE_HTML, f"https://news.example.com/{i}", "text/html"))
        fetches.append(
            FetchResult(url=f"https://news.example.com/x{i}", source_name="t", outcome="timeout")
        )
    fetches.append(_fetch(seed, "file:///seed.txt", "text/plain"))
    pooled = clean_documents(fetches, workers=2)
    inline = [clean_page(fetch) for fetch in fetches if fetch.ok]
    assert [d.url for d in pooled] == [f.final_url for f in fetches if f.ok]
    assert [(d.title, d.text, d.published_at) for d in pooled] == [
        (d.title, d.text, d.published_at) for d in inline
    ]
    assert all(d.fetch is f for d, f in zip(pooled, [f for f in fetches if f.ok], strict=True))
    assert pooled[-1].title == SEED_TITLE


def test_a_page_that_breaks_the_cleaner_is_recorded_not_fatal(caplog):
    broken = _fetch(ARTICLE_HTML, "https://news.example.com/bytes", "text/html")
    broken.page = b"<html>"  # an upstream bug: a page stored without its compression
    good = _fetch(ARTICLE_HTML, "https://news.example.com/ok", "text/html")
    docs = clean_documents([broken, good], workers=1)
    assert [d.rejected_reason for d in docs] == ["clean_error", None]
    # a pool worker logs to its own stderr; here the same log reaches this process's handlers
    assert clean_page(broken).rejected_reason == "clean_error"
    assert "cleaning https://news.example.com/bytes failed" in caplog.text
    assert "Traceback" in caplog.text


def _endless_page(paragraphs: int = 30_000) -> str:
    """A 3 MB page of plain paragraphs: the thorough clean of its 20 000-paragraph version took
    10 s on the 2-core VM, so this one takes about 15 s."""
    body = "".join(
        f"<p>Paragraph {i}: the council met the province's delegates for more talks today.</p>"
        for i in range(paragraphs)
    )
    return f"<html><body><article>{body}</article></body></html>"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_page_that_outlasts_its_time_limit_is_recorded_and_the_batch_goes_on(workers):
    """Each slow page is cut at page_seconds and recorded as rejected clean_timeout; the pool
    process that gave up on it cleans the pages after it (two slow pages hold both workers).
    One worker is a pool too, so a one-core machine has the bound."""
    endless = _endless_page()
    slow = [_fetch(endless, f"https://news.example.com/slow{i}", "text/html") for i in (1, 2)]
    quick = [_fetch(ARTICLE_HTML, f"https://news.example.com/{i}", "text/html") for i in range(8)]
    docs = clean_documents([*slow, *quick], workers=workers, page_seconds=1.0)
    assert [d.rejected_reason for d in docs] == ["clean_timeout"] * 2 + [None] * 8
    assert [d.url for d in docs] == [f.url for f in [*slow, *quick]]


_GIVE_UP_ON_A_PAGE = """
from tasks.clean import clean_documents
from tasks.records import FetchResult

body = "".join(f"<p>Paragraph {i}: the council met the delegates again.</p>" for i in range(30000))
html = f"<html><body><article>{body}</article></body></html>"
page = FetchResult("https://news.example.com/slow", "s", "ok", content_type="text/html", html=html)
print([doc.rejected_reason for doc in clean_documents([page], page_seconds=0.5)])
"""


def test_an_extraction_worker_logs_in_the_format_of_the_flows_lines():
    """A worker's own lines (a page given up on, a traceback) reach stderr formatted as the flow
    process's are: the workers do not import Prefect, which sets that up in the flow process. In
    a fresh process, as the fork server holds the stderr it started with."""
    result = subprocess.run(
        [sys.executable, "-c", _GIVE_UP_ON_A_PAGE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['clean_timeout']\n"
    assert re.search(
        r"^\d\d:\d\d:\d\d\.\d{3} \| ERROR   \| tasks\.extraction - cleaning "
        r"https://news\.example\.com/slow took more than 0\.5 s",
        result.stderr,
        re.MULTILINE,
    ), result.stderr


def test_a_batch_of_one_slow_page_is_bounded_too():
    """A small batch (a scheduled run's few new pages) goes to the pool as well: the bound holds
    for one page alone."""
    slow = _fetch(_endless_page(), "https://news.example.com/slow", "text/html")
    docs = clean_documents([slow], page_seconds=1.0)
    assert [d.rejected_reason for d in docs] == ["clean_timeout"]


def test_a_run_that_ends_stops_the_cleans_of_its_threads_at_once():
    """A run's cleans run in task threads, which its process waits for as it exits: when the run
    ends by an exception (a cancel's SIGTERM, here a failure), its extraction processes are
    killed and those cleans end ExtractionStopped at once, not when their pages are cleaned (a
    cancelled run lived on for the whole page, up to clean_page_seconds); a pool that has not
    started does not start. The next run cleans again."""
    from concurrent.futures import ThreadPoolExecutor

    from tasks.clean import ExtractionStopped, extraction_stops_with_the_run

    slow = _fetch(_endless_page(), "https://news.example.com/slow", "text/html")
    with ThreadPoolExecutor(2) as threads:
        with pytest.raises(RuntimeError, match="the run failed"), extraction_stops_with_the_run():
            cleaning = threads.submit(clean_documents, [slow], 1)
            _wait_for_a_busy_extraction_worker()
            raise RuntimeError("the run failed")
        stopped_at = time.monotonic()
        with pytest.raises(ExtractionStopped, match="its extraction processes were stopped"):
            cleaning.result(timeout=60)
        assert time.monotonic() - stopped_at < 10  # the page alone takes about 15 s
        with pytest.raises(ExtractionStopped, match="no extraction process is started"):
            clean_documents([slow], 1)
    article = _fetch(ARTICLE_HTML, "https://news.example.com/a?id=1", "text/html")
    with extraction_stops_with_the_run():
        assert [d.rejected for d in clean_documents([article], 1)] == [False]


def test_a_cancel_while_the_pool_starts_is_extraction_stopped_not_an_eof_traceback(monkeypatch):
    """A cancel within a second of the pool's start stopped the fork server while it started the
    workers: multiprocessing raised EOFError('unexpected EOF'), logged with its traceback from
    inside the fork server. The kill is timed by the server's start, which no test can hold, so
    the pool here is one that raises as that one did."""
    from contextlib import contextmanager

    from tasks import clean

    @contextmanager
    def starting_pool(*_args):
        raise EOFError("unexpected EOF")
        yield

    monkeypatch.setattr(clean, "_extraction_pool", starting_pool)
    page = _fetch(ARTICLE_HTML, "https://news.example.com/a?id=1", "text/html")
    monkeypatch.setattr(clean._run_ending, "is_set", lambda: True)  # the run ending
    with pytest.raises(clean.ExtractionStopped, match="its extraction processes were stopped"):
        clean._clean_in_pool([page], 1, ExtractionMode.fast, 5.0)
    monkeypatch.setattr(clean._run_ending, "is_set", lambda: False)  # not ending: a real fault
    with pytest.raises(EOFError):
        clean._clean_in_pool([page], 1, ExtractionMode.fast, 5.0)


def _wait_for_a_busy_extraction_worker(seconds: float = 60) -> None:
    """Until a worker of this process's fork server has run for a second (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for server in psutil.Process().children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if "forkserver" in " ".join(server.cmdline()) and any(
                    time.time() - worker.create_time() >= 1.0 for worker in server.children()
                ):
                    return
        time.sleep(0.05)
    raise AssertionError("no extraction worker started")


def _kill_extraction_workers(times: int, after: float, killed: list[int]) -> None:
    """SIGKILL, one at a time, `times` extraction pool workers (children of this process's fork
    server) that have been running for `after` seconds, as the OOM killer would."""
    deadline = time.monotonic() + 60
    while len(killed) < times and time.monotonic() < deadline:
        for server in psutil.Process().children():
            try:
                if "forkserver" not in " ".join(server.cmdline()):
                    continue
                for worker in server.children():
                    if worker.pid not in killed and time.time() - worker.create_time() >= after:
                        worker.kill()
                        killed.append(worker.pid)
                        break
            except psutil.NoSuchProcess:  # ended meanwhile: the next poll sees the rest
                pass
        time.sleep(0.05)


@pytest.mark.parametrize(("kills", "slow_page"), [(1, "clean_timeout"), (2, "clean_crash")])
def test_an_extraction_process_killed_mid_batch_loses_no_page(kills, slow_page):
    """A pool worker killed on a page (the OOM killer, a crash in lxml): the pages it returned
    stay, the rest are cleaned again, the page it died on alone. Killed once, that page is only
    slow (given up at page_seconds); killed again alone, it is what kills: rejected
    clean_crash. Either way the batch's other pages are cleaned, in order."""
    quick = [_fetch(ARTICLE_HTML, f"https://news.example.com/{i}", "text/html") for i in range(6)]
    slow = _fetch(_endless_page(), "https://news.example.com/slow", "text/html")
    batch = [*quick[:2], slow, *quick[2:]]
    clean_documents(quick[:1], workers=1)  # the fork server up, so the killer times pages only
    killed: list[int] = []
    killer = threading.Thread(target=_kill_extraction_workers, args=(kills, 1.0, killed))
    killer.start()
    docs = clean_documents(batch, workers=1, page_seconds=3.0)
    killer.join()
    assert len(killed) == kills
    assert [d.url for d in docs] == [f.url for f in batch]
    assert [d.rejected_reason for d in docs] == [None, None, slow_page, *[None] * 4]


def test_the_time_limit_stops_a_regular_expression_and_leaves_no_timer_behind():
    """The timer interrupts C code that checks for signals (a regex backtracking for ever, here
    2^40 steps), and afterwards neither the alarm nor its handler is left set."""
    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(_CleanTimeout), _time_limit(0.2):
        re.match(r"(a+)+$", "a" * 40 + "b")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


_WORKERS_MAIN = """
import os
import sys

import app.main_import  # stands for what a main module imports (flows.console for `newsflow`)


def loaded():
    from trafilatura import external

    found = ["dateparser"] if "dateparser" in sys.modules else []
    found += ["jusText stoplist"] if external.JT_STOPLIST is not None else []
    found += [name for name in ("tasks.extraction", "prefect") if name in sys.modules]
    found += ["main preloaded"] if sys.modules["app.main_import"].PID != os.getpid() else []
    return found


if __name__ == "__main__":
    from concurrent.futures import ProcessPoolExecutor

    from tasks.clean import _pool_context, start_extraction_server
    from tasks.settings import ExtractionMode

    mode = ExtractionMode(sys.argv[1])
    start_extraction_server(mode)
    with ProcessPoolExecutor(max_workers=1, mp_context=_pool_context(mode)) as pool:
        print(" ".join(pool.submit(loaded).result(timeout=120)))
"""


@pytest.mark.parametrize(
    ("mode", "launch", "expected"),
    [
        ("fast", "script", "tasks.extraction main preloaded"),
        ("fast", "module", "tasks.extraction main preloaded"),
        ("thorough", "script", "dateparser jusText stoplist tasks.extraction main preloaded"),
    ],
)
def test_a_fresh_process_fork_server_loads_what_its_workers_need_and_no_more(
    mode, launch, expected, tmp_path
):
    """A worker starts with the extraction code loaded and the parent's main module imported by
    the fork server before it forked (`python script.py` and `python -m module` alike), so each
    short-lived worker imports nothing again. Prefect, which the parent has loaded, is not in
    it: the server imports only what the workers run and what main imports. The thorough mode's
    workers start with dateparser's and jusText's tables built; the fast mode's without them."""
    package = tmp_path / "app"  # in a package, as bench.ingest_job is: runpy warns there
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "workers.py").write_text(_WORKERS_MAIN)
    (package / "main_import.py").write_text("import os\n\nPID = os.getpid()\n")
    main = ["app/workers.py"] if launch == "script" else ["-m", "app.workers"]
    result = subprocess.run(
        [sys.executable, *main, mode],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected
    assert "Warning" not in result.stderr  # runpy's, when a worker's main was imported before


_UNGUARDED_MAIN = """
from tasks.clean import clean_documents
from tasks.records import FetchResult

page = "<html><body><article><p>" + "Kabul fell today, officials said. " * 40 + "</p></article>"
fetch = FetchResult("https://news.example.com/a", "t", "ok", content_type="text/html", html=page)
print(clean_documents([fetch], workers=1))  # no `if __name__ == "__main__":`
"""


def test_workers_that_die_before_any_page_fail_the_clean_and_blame_no_page(tmp_path):
    """A script that cleans (or runs the flow) at its top level has each extraction process run
    it again as it starts, and die before any page: the clean fails, saying why, instead of
    recording each page as clean_crash, one lone process after another (each running the
    script again)."""
    (tmp_path / "unguarded.py").write_text(_UNGUARDED_MAIN)
    result = subprocess.run(
        [sys.executable, "unguarded.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    assert "ExtractionWorkersError" in result.stderr
    assert 'if __name__ == "__main__":' in result.stderr.splitlines()[-1]
    assert "clean_crash" not in result.stdout + result.stderr


def test_clean_batch_task_runs_in_a_flow(prefect_harness):
    from prefect import flow

    @flow
    def run_clean(fetches: list[FetchResult]) -> list:
        return clean_batch(fetches, workers=1)

    fetches = [
        _fetch(ARTICLE_HTML, "https://news.example.com/a", "text/html"),
        _fetch(COOKIE_WALL_HTML, "https://news.example.com/b", "text/html"),
    ]
    docs = run_clean(fetches)
    assert [d.rejected_reason for d in docs] == [None, "not_article"]


# --- quality gates ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline() -> dict:
    return json.loads(BASELINE.read_text(encoding="utf-8"))


def _require(corpus: Path, folder: str) -> None:
    if not (corpus / folder).is_dir():
        pytest.skip(f"benchmark corpus {corpus / folder} is absent")


@pytest.mark.parametrize("mode", list(ExtractionMode))
def test_extraction_f1_gate(corpus, baseline, mode):
    """Mean per-page shingle F1 on the scrapinghub benchmark may not drop below the pinned value."""
    from bench.eval_extraction import AEB_DIR, extract_aeb, score_page, summarize_scores

    _require(corpus, AEB_DIR)
    truth = json.loads((corpus / "extraction/scrapinghub-aeb/ground-truth.json").read_text("utf-8"))
    predicted = extract_aeb(corpus, mode=mode)
    scores = [score_page(item["articleBody"], predicted[key]) for key, item in truth.items()]
    mean_f1 = summarize_scores(scores)["mean_f1"]
    pinned = baseline[mode]["scrapinghub_aeb_mean_f1"]
    assert mean_f1 >= pinned, f"{mode} extraction F1 fell to {mean_f1:.4f} (pinned {pinned})"


@pytest.mark.parametrize("mode", list(ExtractionMode))
def test_date_accuracy_gate(corpus, baseline, mode):
    """Exact publication-day accuracy on MediaCloud 2020 may not drop below the pinned value."""
    from bench.eval_extraction import DATES_DIR, evaluate_dates

    _require(corpus, DATES_DIR)
    accuracy = evaluate_dates(corpus, dates_only=True, mode=mode)["accuracy"]
    pinned = baseline[mode]["mediacloud_2020_day_accuracy"]
    assert accuracy >= pinned, f"{mode} date accuracy fell to {accuracy:.3f} (pinned {pinned})"


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "quota_cores"),
    [
        ({"cpu.max": "50000 100000\n"}, 1),  # v2: half a CPU, rounded up to one process
        ({"cpu.max": "max 100000\n"}, None),  # v2: no quota
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no cgroup file system
    ],
)
def test_usable_cores_follow_the_cgroup_cpu_quota(tmp_path, files, quota_cores):
    """A container's CPU limit caps the extraction processes that `clean_workers = 0` forks."""
    cores = len(os.sched_getaffinity(0))
    expected = cores if quota_cores is None else min(cores, quota_cores)
    assert usable_cores(_cgroup(tmp_path, files)) == expected


def test_usable_cores_follow_the_cpu_affinity(tmp_path):
    """taskset or a container's cpuset: a process bound to one core counts one, however many
    the machine has (os.cpu_count() would count them all)."""
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert usable_cores(tmp_path) == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert usable_cores(tmp_path) == len(allowed)


_SIGNALS_IN_A_POOL = """
import os, random, signal, sys, threading, time
from tasks import clean
from tasks.interrupts import raise_for_signal
from tasks.settings import ExtractionMode

def slow(page):
    time.sleep(0.05)
    return len(page)

armed = False

def ctrl_c(signum, frame):  # as newsflow's handler raises it
    if armed:  # one a trial, while it runs
        raise_for_signal(KeyboardInterrupt())

if __name__ == "__main__":
    signal.signal(signal.SIGINT, ctrl_c)
    clean.start_extraction_server(ExtractionMode.fast)
    random.seed(int(sys.argv[1]))
    stopped, other = 0, []
    for trial in range(60):
        sender = threading.Timer(random.uniform(0, 0.08), os.kill, (os.getpid(), signal.SIGINT))
        try:
            try:
                armed = True
                sender.start()
                with clean._extraction_pool(2, ExtractionMode.fast) as pool:
                    pages = ["x" * 150_000] * 20  # a page more than a pipe holds
                    list(clean._cleaned_in_order(pool, slow, pages, 1))
            finally:
                armed = False
                sender.join()
        except KeyboardInterrupt:
            stopped += 1
        except BaseException as exc:  # what the Ctrl-C left a pool in the middle of
            other.append(repr(exc))
    print("done", stopped, other, flush=True)
"""


def test_a_signal_while_a_pool_cleans_never_hangs_or_says_more(tmp_path: Path) -> None:
    """A Ctrl-C or SIGTERM while a pool cleans big pages: its workers are killed, and it ends
    the clean with its own exception and nothing else on stderr. 60 Ctrl-Cs at random points
    of a pool's life, start-up included, each must come out as KeyboardInterrupt.

    Before, on Python 3.11: the pool's manager thread failed on the chunks `map` had cancelled
    (InvalidStateError, CPython gh-107219) and printed its traceback (28 to 43 of 60), and then,
    before it closed its queue, left its feeder thread blocked writing a page to the dead
    workers: the process hung as it exited, joining it (a SIGTERM mid-reclean hung the command
    2 times of 16). A signal inside a worker's start left a worker reading what the pool had
    deleted (FileNotFoundError tracebacks) or the pool unable to shut down (RuntimeError
    "cannot join thread before it is started", 3 of 60, instead of the KeyboardInterrupt)."""
    script = tmp_path / "signals_in_a_pool.py"
    script.write_text(_SIGNALS_IN_A_POOL)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, str(script), "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.stdout.strip() == "done 60 []", done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
