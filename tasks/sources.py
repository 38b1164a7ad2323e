"""Turn configured sources (URL lists, feeds, sitemaps, saved pages on disk) into work items."""

from __future__ import annotations

import calendar
import csv
import hashlib
import html
import json
import logging
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar, assert_never
from urllib.parse import parse_qs, quote, urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import feedparser
import lxml.etree
import lxml.html
import requests
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from tasks.dedupe import url_key
from tasks.fetch import (
    DOCUMENT_MAX_BYTES,
    GZIP_MAGIC,
    FetchBatch,
    GunzipError,
    fetch_in_batch,
    gunzip_capped,
    internal_error_result,
    open_batch,
)
from tasks.records import FeedEntry, FetchResult, Source, SourceKind, WorkItem
from tasks.settings import FetchSettings

LOGGER = logging.getLogger(__name__)
_R = TypeVar("_R")

MAX_SITEMAP_DEPTH = 3  # the root sitemap is depth 0; children deeper than this are not fetched
MAX_SITEMAPS_PER_SOURCE = 100
MAX_UNCOMPRESSED_BYTES = DOCUMENT_MAX_BYTES  # the sitemap protocol's cap; also stops gzip bombs
PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz", ".txt")
_HTTP_SCHEMES = {"http", "https"}
# The media types of the feeds an HTML page declares in its <link rel="alternate"> elements (not
# application/json: WordPress declares its REST API's record of the page with it).
_FEED_LINK_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json",
                    "application/rdf+xml"}  # fmt: skip
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
    re.I | re.S,
)
_XML_DOCUMENT = re.compile(r"\s*<(?:\?xml|urlset|sitemapindex|rss|feed|rdf:RDF)\b", re.I)
_JSON_DOCUMENT = re.compile(r"\s*[\[{]")
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(?:\.1)?/?$")
_W3C_YEAR = re.compile(r"^\d{4}$")
_W3C_MONTH = re.compile(r"^\d{4}-\d{2}$")
_WHITESPACE = re.compile(r"\s+")
_HIDDEN_ELEMENT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>?")
_GOOGLE_HOSTS = {"google.com", "www.google.com"}  # Google Alerts' redirect links
AUTHOR_SEPARATOR = "; "  # between the names of a byline, as articles.author has them
# feedparser reads the base URL for relative links from these; a declared XML type keeps it from
# flagging every document as "no Content-type specified" (and, with a charset, it decodes by that).
_FEED_MEDIA_TYPE = "application/xml"
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, TimeoutError, ConnectionError)


class SourceError(ValueError):
    """A source document that cannot be used; `kind` is the outcome recorded in the fetch log."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class ParsedFeed:
    """The entries of one feed plus, for malformed feeds that were salvaged, what was wrong."""

    entries: list[FeedEntry]
    problem: str | None = None


@dataclass
class ParsedSitemap:
    """Page URLs with lastmod, child sitemaps, and what was wrong if malformed XML was salvaged."""

    pages: list[tuple[str, datetime | None]]
    children: list[str]
    problem: str | None = None
    # A Google News sitemap's pages: each one's <news:title> and <news:publication_date>
    news: dict[str, tuple[str | None, datetime | None]] = field(default_factory=dict)


@dataclass
class Discovery:
    """What the sources yielded: pages to get, feed entries, and the source documents' fetches."""

    items: list[WorkItem] = field(default_factory=list)
    feed_entries: list[FeedEntry] = field(default_factory=list)
    fetches: list[FetchResult] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _gunzip(body: bytes, what: str) -> bytes:
    """Decompress every gzip member, capped so a small bomb cannot fill memory."""
    try:
        return gunzip_capped(body, MAX_UNCOMPRESSED_BYTES)
    except GunzipError as exc:
        kind, message = {
            "corrupt": ("parse_error", f"{what}: gzip data is corrupt ({exc.detail})"),
            "too_large": (
                "too_large",
                f"{what}: more than {MAX_UNCOMPRESSED_BYTES} bytes once decompressed",
            ),
            "truncated": ("parse_error", f"{what}: gzip data is truncated"),
        }[exc.problem]
        raise SourceError(kind, message) from exc


def _maybe_gunzip(body: bytes, what: str) -> bytes:
    return _gunzip(body, what) if body.startswith(GZIP_MAGIC) else body


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1/x": urllib refuses an unclosed IPv6 literal
        return False
    return parts.scheme.lower() in _HTTP_SCHEMES and bool(parts.netloc)


def _absolute_http_url(raw: str, base_url: str | None) -> str | None:
    """Resolve a possibly relative link; None unless the result is an http(s) URL."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        url = urljoin(base_url, raw) if base_url and _is_http_url(base_url) else raw
    except ValueError:  # "//[::1/x" against a base
        return None
    return url if _is_http_url(url) else None


def parse_w3c_datetime(text: str | None) -> datetime | None:
    """Parse a W3C/ISO 8601 date or datetime (sitemap lastmod, JSON Feed dates) to UTC."""
    text = (text or "").strip()
    if not text:
        return None
    if _W3C_YEAR.match(text):
        text += "-01-01"
    elif _W3C_MONTH.match(text):
        text += "-01"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        LOGGER.debug("unparseable date %r", text)
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _stripped_tags(markup: str) -> str:
    """Text of markup lxml will not take as a fragment (a whole document, a lone doctype)."""
    return html.unescape(_TAG.sub(" ", _HIDDEN_ELEMENT.sub(" ", markup)))


def _html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed; odd markup never raises."""
    if "<" not in fragment:
        return _WHITESPACE.sub(" ", html.unescape(fragment)).strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (AssertionError, lxml.etree.LxmlError, ValueError):
        # lxml asserts "too many bodies" on <html></html> and finds <!DOCTYPE html> empty
        return _WHITESPACE.sub(" ", _stripped_tags(fragment)).strip()
    for hidden in root.xpath(".//script | .//style"):
        hidden.drop_tree()
    return _WHITESPACE.sub(" ", root.text_content()).strip()


def _entry_key(guid: str | None, link: str | None, title: str | None, summary: str | None) -> str:
    """guid/id, else the link, else a stable hash of title+summary."""
    if guid and guid.strip():
        return guid.strip()
    if link:
        return link
    digest = hashlib.sha1(f"{title or ''}\n{summary or ''}".encode()).hexdigest()
    return f"sha1:{digest}"


def _first_by_key(records: list[_R], key: Callable[[_R], str]) -> list[_R]:
    """The records with distinct keys, in order; the first one of each key wins."""
    first: dict[str, _R] = {}
    for record in records:
        first.setdefault(key(record), record)
    return list(first.values())


def _unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Collapse entries that share a key (duplicate GUIDs); the first one wins."""
    unique = _first_by_key(entries, lambda entry: entry.entry_key)
    if len(unique) < len(entries):
        LOGGER.info("collapsed %d duplicate feed entries", len(entries) - len(unique))
    return unique


# ---------------------------------------------------------------------------------------------
# Feeds


def _struct_time_to_utc(value: Any) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times."""
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _feed_text(value: str | None, media_type: str | None) -> str | None:
    """A title or summary as plain text: markup dropped from HTML and XHTML ("<b>Slack</b> Stock"
    from Google Alerts); entities read in plain text, which feeds escape twice ("&ldquo;")."""
    if not value:
        return None
    if "html" in (media_type or "html"):
        return _html_to_text(value) or None
    return html.unescape(value).strip() or None


def _feedparser_summary(entry: Any) -> str | None:
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        detail = entry["content"][0]
        summary = detail.get("value")
    return _feed_text(summary, detail.get("type"))


def _article_link(link: str) -> str:
    """The article a redirect link leads to: a Google Alerts link wraps it in
    https://www.google.com/url?…&url=<article>&…, so it is fetched and deduplicated by its own
    address, not as one more google.com URL."""
    parts = urlsplit(link)
    if parts.hostname in _GOOGLE_HOSTS and parts.path == "/url":
        query = parse_qs(parts.query)
        target = next(iter(query.get("url") or query.get("q") or []), "")
        if _is_http_url(target):
            return target
    return link


def _link_base(feed_url: str, *declared: str | None) -> str | None:
    """Where relative links resolve: the feed URL, else (read from disk) its self or home link."""
    for candidate in (feed_url, *declared):
        if candidate and _is_http_url(candidate):
            return candidate
    return None


def _feedparser_entry(
    entry: Any, feed_url: str, base_url: str | None, source_name: str
) -> FeedEntry:
    link = _absolute_http_url(entry.get("link") or "", base_url)
    # FeedBurner's <feedburner:origLink> is the publisher's own URL behind its feedproxy link
    article = _absolute_http_url(entry.get("feedburner_origlink") or "", base_url) or link
    title = _feed_text(entry.get("title"), (entry.get("title_detail") or {}).get("type"))
    summary = _feedparser_summary(entry)
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return FeedEntry(
        feed_url=feed_url,
        entry_key=_entry_key(entry.get("id"), link, title, summary),  # as the feed gives it
        source_name=source_name,
        link=_article_link(article) if article else None,
        title=title,
        summary=summary,
        author=_feedparser_author(entry),
        published_at=_struct_time_to_utc(published),
    )


def _declared_feeds(page: bytes, page_url: str) -> list[str]:
    """The feeds an HTML page declares (`<link rel="alternate" type="application/rss+xml">`, as
    a site's home page does), absolute, at most three: what to pass instead of the page."""
    try:
        root = lxml.html.document_fromstring(page)
    except (lxml.etree.LxmlError, ValueError):
        return []
    found: list[str] = []
    for link in root.iterfind(".//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        media_type = (link.get("type") or "").lower().strip()
        if "alternate" in rel and media_type in _FEED_LINK_TYPES:
            url = _absolute_http_url(link.get("href"), page_url)
            if url and url not in found:
                found.append(url)
    return found[:3]


def _is_xml_sitemap(body: bytes, url: str) -> bool:
    """Whether the document's root is a sitemap's, as the sitemap reader finds it."""
    try:
        root, _ = _sitemap_root(body, url)
    except (SourceError, lxml.etree.LxmlError, ValueError):
        return False
    return _local_name(root.tag) in _SITEMAP_ROOTS


def _refuse_non_feed(body: bytes, parsed: Any, feed_url: str, recovered: int) -> None:
    """Raise SourceError unless feedparser found a feed: a format it knows, or some entry.

    A malformed document of a known format with no entry recovered is a parse error too.
    """
    if recovered or (parsed.get("version") and not parsed.bozo):
        return
    if _HTML_START.match(body[:4096]):
        declared = _declared_feeds(body, feed_url)
        hint = (
            f"it names its feeds: {', '.join(declared)}; pass one of them"
            if declared
            else "use the page's RSS/Atom link or kind 'urls'"
        )
        raise SourceError("not_a_feed", f"{feed_url} is an HTML page, not a feed; {hint}")
    if parsed.bozo:
        raise SourceError(
            "parse_error", f"{feed_url} could not be parsed as a feed: {parsed.bozo_exception}"
        )
    if _is_xml_sitemap(body, feed_url):
        raise SourceError(
            "not_a_feed", f"{feed_url} is a sitemap, not a feed; use kind 'sitemap' (--sitemap)"
        )
    raise SourceError("not_a_feed", f"{feed_url} is not an RSS, Atom or JSON feed")


def _parse_xml_feed(
    body: bytes, feed_url: str, source_name: str, charset: str | None
) -> ParsedFeed:
    content_type = f"{_FEED_MEDIA_TYPE}; charset={charset}" if charset else _FEED_MEDIA_TYPE
    headers = {"content-type": content_type}
    if _is_http_url(feed_url):
        headers["content-location"] = feed_url
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )  # links inside summaries are dropped with the markup: resolving them is wasted work
    self_link = next(
        (link.get("href") for link in parsed.feed.get("links", []) if link.get("rel") == "self"),
        None,
    )
    base_url = _link_base(feed_url, self_link, parsed.feed.get("link"))
    entries = [
        _feedparser_entry(e, feed_url, base_url, source_name)
        for e in parsed.entries
        if any(e.get(key) for key in ("id", "link", "title", "summary", "content"))
    ]  # empty shells come from illegally nested items
    _refuse_non_feed(body, parsed, feed_url, len(entries))
    problem = None
    if parsed.bozo:
        problem = f"malformed feed, kept {len(entries)} recovered entries: {parsed.bozo_exception}"
        LOGGER.warning("%s: %s", feed_url, problem)
    return ParsedFeed(_unique_entries(entries), problem)


def _json_string(holder: dict[str, Any], key: str) -> str | None:
    """A JSON Feed field that must be a string; any other type (a number, a list) is ignored."""
    value = holder.get(key)
    return value if isinstance(value, str) else None


def _json_feed_author(item: dict[str, Any], feed: dict[str, Any]) -> str | None:
    """JSON Feed 1.1 `authors` list, else 1.0 `author`, falling back to the feed's."""
    for holder in (item, feed):
        authors = holder.get("authors") or ([holder["author"]] if holder.get("author") else [])
        if not isinstance(authors, list):
            continue
        names = [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
        if names:
            return AUTHOR_SEPARATOR.join(names)
    return None


def _feedparser_author(entry: Any) -> str | None:
    """The entry's authors' names: feedparser's `author` is the first one only, and with an
    address beside it ("mattt@nshipster.com (Mattt Thompson)", the form RSS asks for)."""
    names = [a["name"].strip() for a in entry.get("authors") or [] if (a.get("name") or "").strip()]
    return AUTHOR_SEPARATOR.join(names) or (entry.get("author") or "").strip() or None


def _json_feed_entry(
    item: dict[str, Any], feed: dict[str, Any], feed_url: str, source_name: str
) -> FeedEntry:
    declared = (_json_string(feed, "feed_url"), _json_string(feed, "home_page_url"))
    base_url = _link_base(feed_url, *declared)
    link = _absolute_http_url(str(item.get("url") or item.get("external_url") or ""), base_url)
    title = _feed_text(str(item.get("title") or ""), "text/plain")
    summary = item.get("summary") or item.get("content_text")
    if not summary and item.get("content_html"):
        summary = _html_to_text(str(item["content_html"]))
    summary = str(summary).strip() if summary else None
    published = item.get("date_published") or item.get("date_modified")
    guid = item.get("id")
    return FeedEntry(
        feed_url=feed_url,
        entry_key=_entry_key(str(guid) if guid is not None else None, link, title, summary),
        source_name=source_name,
        link=_article_link(link) if link else None,
        title=title,
        summary=summary or None,
        author=_json_feed_author(item, feed),
        published_at=parse_w3c_datetime(str(published)) if published else None,
    )


def _parse_json_feed(body: bytes, feed_url: str, source_name: str) -> ParsedFeed:
    """JSON Feed 1 / 1.1 (https://jsonfeed.org); feedparser 6 does not read it."""
    try:
        feed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError("parse_error", f"{feed_url} is not valid JSON: {exc}") from exc
    if not isinstance(feed, dict) or not _JSON_FEED_VERSION.match(str(feed.get("version", ""))):
        raise SourceError(
            "not_a_feed", f"{feed_url} is JSON but not a JSON Feed (no jsonfeed.org version)"
        )
    items = feed.get("items")
    if not isinstance(items, list):
        raise SourceError("parse_error", f"{feed_url}: JSON Feed 'items' is not a list")
    entries = [
        _json_feed_entry(item, feed, feed_url, source_name)
        for item in items
        if isinstance(item, dict)
    ]
    problem = None
    if len(entries) < len(items):
        problem = f"skipped {len(items) - len(entries)} JSON Feed items that are not objects"
    return ParsedFeed(_unique_entries(entries), problem)


def read_feed(
    body: bytes, feed_url: str, source_name: str, charset: str | None = None
) -> ParsedFeed:
    """Parse an RSS, Atom or JSON feed, and say what was wrong when a malformed one was salvaged.

    Args:
        body: the raw document (gzip bytes are decompressed here too).
        feed_url: where it came from; relative links resolve against it (and any xml:base).
        source_name: the configured source, copied into every entry.
        charset: the charset the fetch decoded the document with (its HTTP header's when that
            fits), which an XML feed without an encoding in its declaration needs.

    Returns:
        The unique entries (duplicate GUIDs collapsed) and a problem note or None.
    """
    body = _maybe_gunzip(body, feed_url).lstrip(b" \t\r\n")
    if not body:
        raise SourceError("parse_error", f"{feed_url} is empty")
    if body.lstrip(b"\xef\xbb\xbf")[:1] in (b"{", b"["):
        return _parse_json_feed(body, feed_url, source_name)
    return _parse_xml_feed(body, feed_url, source_name, charset)


def parse_feed(body: bytes, feed_url: str, source_name: str) -> list[FeedEntry]:
    """Parse an RSS, Atom or JSON feed into entries; raise SourceError for non-feeds."""
    return read_feed(body, feed_url, source_name).entries


# ---------------------------------------------------------------------------------------------
# Sitemaps and URL lists


def _local_name(tag: Any) -> str:
    return lxml.etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(element: Any, name: str) -> Any | None:
    return next((child for child in element if _local_name(child.tag) == name), None)


def _child_text(element: Any, name: str) -> str | None:
    child = _child(element, name)
    if child is None:
        return None
    return (child.text or "").strip() or None


def _sitemap_root(body: bytes, sitemap_url: str) -> tuple[Any, str | None]:
    """The root element (recovering from malformed XML) and the first error, if any."""
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False
    )
    root = lxml.etree.fromstring(body, parser=parser)
    if root is None:
        raise SourceError("parse_error", f"{sitemap_url} is not well-formed XML")
    errors = parser.error_log.filter_from_errors()
    problem = None
    if errors:
        first = errors[0]
        problem = (
            f"malformed XML ({len(errors)} errors, first at line {first.line}: {first.message})"
        )
    return root, problem


def _parse_xml_sitemap(body: bytes, sitemap_url: str) -> ParsedSitemap:
    root, problem = _sitemap_root(body, sitemap_url)
    kind = _local_name(root.tag)
    if kind not in _SITEMAP_ROOTS:
        hint = "; for RSS/Atom use kind 'feed'" if kind in {"rss", "feed", "RDF"} else ""
        raise SourceError(
            "not_a_sitemap",
            f"{sitemap_url} has root <{kind}>, not <urlset> or <sitemapindex>{hint}",
        )
    found = ParsedSitemap([], [], problem)
    for element in root:
        loc = _absolute_http_url(_child_text(element, "loc") or "", sitemap_url)
        if loc is None:
            continue
        if kind == "sitemapindex" and _local_name(element.tag) == "sitemap":
            found.children.append(loc)
        elif kind == "urlset" and _local_name(element.tag) == "url":
            found.pages.append((loc, parse_w3c_datetime(_child_text(element, "lastmod"))))
            if (news := _child(element, "news")) is not None:
                published = parse_w3c_datetime(_child_text(news, "publication_date"))
                found.news[loc] = (_child_text(news, "title"), published)
    if problem:
        LOGGER.warning("%s: %s; kept %d URLs", sitemap_url, problem, len(found.pages))
    return found


def read_sitemap(body: bytes, sitemap_url: str) -> ParsedSitemap:
    """Read an XML sitemap, a sitemap index or a text sitemap (gzipped or not).

    Args:
        body: the raw document; gzip bytes are decompressed here too.
        sitemap_url: where it came from, for messages and relative locations.

    Returns:
        Page URLs with lastmod (UTC or None), child sitemap URLs, and a problem note or None.
    """
    body = _maybe_gunzip(body, sitemap_url).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise SourceError("parse_error", f"sitemap {sitemap_url} is empty")
    if body[:1] == b"<":
        return _parse_xml_sitemap(body, sitemap_url)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError("decode", f"text sitemap {sitemap_url} is not UTF-8: {exc}") from exc
    urls = read_url_list(text)  # text sitemaps hold absolute URLs only
    if not urls:
        raise SourceError("not_a_sitemap", f"{sitemap_url} holds no absolute http(s) URLs")
    return ParsedSitemap([(url, None) for url in urls], [])


def parse_sitemap(
    body: bytes, sitemap_url: str
) -> tuple[list[tuple[str, datetime | None]], list[str]]:
    """Page URLs with their lastmod, and child sitemap URLs, of a sitemap document."""
    parsed = read_sitemap(body, sitemap_url)
    return parsed.pages, parsed.children


def _url_list_line(line: str, base_url: str | None) -> str | None:
    """The URL a list line holds: absolute, or a /path, ./path or ../path when a base is known."""
    url, _, rest = line.partition(" ")
    url, rest = url.split("\t")[0].rstrip(",;|"), rest.strip()  # a sheet's empty cells: "URL,"
    if rest and not rest.startswith("#"):
        return None
    if _is_http_url(url):
        return url
    if base_url and url.startswith(("/", "./", "../")):
        return _absolute_http_url(url, base_url)
    return None


def _physical_lines(text: str) -> list[str]:
    """A list's lines as an editor numbers them, split at \\n, \\r\\n or \\r only (splitlines
    also splits at \\v, \\f and U+2028, which a cell may hold)."""
    return re.split(r"\r\n|\r|\n", text.lstrip("\ufeff"))


def _list_lines(raw: list[str]) -> list[tuple[int, str]]:
    """A URL list's lines (_physical_lines) that hold something, stripped, with their line
    numbers: blank lines and # comments are not among them."""
    lines = enumerate((line.strip() for line in raw), start=1)
    return [(number, line) for number, line in lines if line and not line.startswith("#")]


URL_COLUMN_NAMES = ("url", "urls", "link", "href", "permalink", "address")  # most likely first
_DELIMITERS = ",;\t|"  # between a table's cells, when no Excel sep= line names one
_EXCEL_SEPARATOR = re.compile(r'"?sep=(.)\1*"?', re.I)  # a line Excel puts before the header
_NUMBER_SIGN_HEADER = re.compile(r'"?#"?[,;\t|]')  # a header's first column "#", not a comment


class UrlColumn(NamedTuple):
    """A spreadsheet export's header: its cells' delimiter, its names, and the indexes of the
    columns that could hold the URLs, most likely first (_url_column_indexes)."""

    delimiter: str
    names: list[str]
    candidates: list[int]


def _url_column_indexes(names: list[str]) -> list[int]:
    """The columns that could hold a table's URLs, most likely first: those named as in
    URL_COLUMN_NAMES (any case), in its order, then those whose words include url ("Article
    URL", "page_url", "articleUrl"), left to right."""
    words = [re.sub("([a-z])([A-Z])", r"\1 \2", name).lower() for name in names]
    rank = {name: rank for rank, name in enumerate(URL_COLUMN_NAMES)}
    named = sorted((rank[name], i) for i, name in enumerate(words) if name in rank)
    worded = [i for i, name in enumerate(words) if {"url", "urls"} & set(re.split("[^a-z]", name))]
    return list(dict.fromkeys([i for _, i in named] + worded))


def _is_url_or_path(line: str) -> bool:
    """A list line that holds a URL, or a /path a list read from the web resolves: no header."""
    return _url_list_line(line, None) is not None or line.startswith(("/", "./", "../"))


def _url_column(header: str, delimiters: str = _DELIMITERS) -> UrlColumn | None:
    """A list exported from a spreadsheet: when `header` names a URL column
    (_url_column_indexes), the delimiter (of `delimiters`, the one that splits it most) and its
    names; for a name alone, a delimiter no line holds. None for a URL or path (or anything
    else)."""
    if _is_url_or_path(header):
        return None
    found: UrlColumn | None = None
    for delimiter in delimiters:
        names = [name.strip() for name in next(csv.reader([header], delimiter=delimiter))]
        ranked = _url_column_indexes(names)
        if ranked and (found is None or len(names) > len(found.names)):
            found = UrlColumn(delimiter, names, ranked)
    if found and len(found.names) == 1:  # a name alone: each line is its URL, commas and all
        return found._replace(delimiter="\x1f")  # (but for CSV's quotes round it)
    return found


def _first_cell(line: str, delimiter: str) -> str:
    return next(csv.reader([line], delimiter=delimiter), [""])[0].strip()


def _number_sign_header(
    raw: list[str], first: tuple[int, str], delimiters: str
) -> tuple[int, UrlColumn] | None:
    """A header whose first column is named # (a row number), which reads as a comment: one of
    the comment lines above the list's `first` line, the nearest, when its rows begin with
    something other than a URL (their number), with its line number and columns."""
    for number in range(first[0] - 1, 0, -1):
        line = raw[number - 1].strip()
        if not line:
            continue
        if not line.startswith("#"):  # Excel's sep= line
            return None
        column = _url_column(line, delimiters) if _NUMBER_SIGN_HEADER.match(line) else None
        if column and not _is_url_or_path(_first_cell(first[1], column.delimiter)):
            return number, column
    return None


def _find_header(
    raw: list[str], lines: list[tuple[int, str]], delimiters: str, name: str
) -> tuple[int, UrlColumn] | None:
    """A spreadsheet export's header and its line number: its first line, or one above whose
    first column is # (_number_sign_header), or the second below a title ("Internal - All",
    Screaming Frog's older exports; "Export of URLs", though a name alone with the word URLs is
    a one-column header), which is skipped. None for a plain list."""
    hashed = _number_sign_header(raw, lines[0], delimiters)
    if hashed:
        return hashed
    column = _url_column(lines[0][1], delimiters)
    titled = len(lines) > 1 and not _is_url_or_path(lines[0][1])
    below = _url_column(lines[1][1], delimiters) if titled else None
    if below and len(below.names) > 1 and (column is None or len(column.names) == 1):
        LOGGER.warning(
            "%s line %d skipped: %r is a title above its table's header",
            name, lines[0][0], lines[0][1][:80],
        )  # fmt: skip
        return lines[1][0], below  # ("Export of URLs" above it is a title, not a header)
    if column:
        return lines[0][0], column
    return None


def _table_rows(
    raw: list[str], header_at: int, delimiter: str, name: str
) -> list[tuple[int, list[str]]]:
    """The rows below a header, each with the line it starts on, read as CSV: a quoted cell may
    hold the delimiter, line breaks, blank lines and lines that begin with #; a line that begins
    with # between rows is a comment, as in a list."""
    starts, at_row_start, last_read = [], True, header_at

    def row_lines() -> Iterator[str]:
        """The lines after the header, less the blank and comment lines between rows."""
        nonlocal at_row_start, last_read
        for last_read, line in enumerate(raw[header_at:], start=header_at + 1):  # noqa: B007
            if at_row_start:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                starts.append(last_read)
                at_row_start = False
            yield line + "\n"  # a cell over two lines keeps its line break

    rows = []
    try:
        for row in csv.reader(row_lines(), delimiter=delimiter):
            at_row_start = True
            if any(cell.strip() for cell in row):
                rows.append((starts[-1], row))
    except csv.Error as exc:  # a cell over 128 kB: not a table after all
        raise SourceError(
            "no_urls", f"{name}: its table cannot be read past line {last_read}: {exc}"
        ) from exc
    return rows


def _width(row: list[str]) -> int:
    """A row's cells, less the empty ones at its end (a trailing delimiter)."""
    while row and not row[-1].strip():
        row = row[:-1]
    return len(row)


def _column_read(rows: list[tuple[int, list[str]]], candidates: list[int], width: int) -> int:
    """Of the columns that could hold the URLs, the first one of whose cells holds one (an
    `address` column of street addresses is passed over for `Article URL`); when none does,
    the first of the header's other columns that does (`website`, `Link to story`)."""
    others = [index for index in range(width) if index not in candidates]
    for index in [*candidates, *others]:
        if any(index < len(row) and _is_http_url(row[index].strip()) for _, row in rows):
            return index
    return candidates[0]


def _list_entries(text: str, name: str = "URL list") -> tuple[list[tuple[int, str]], str | None]:
    """What each line of a URL list offers as its URL, with its line number: the line itself,
    or in a spreadsheet's export (_find_header), its URL column's cell, row by row
    (_table_rows). Also the column's name, None for a plain list.

    Of the columns that could hold the URL, the first (_url_column_indexes) whose cells hold
    one is read, and a warning names them; when none does, the first other column that does
    (`name,address,website`), with a warning. A header all of whose rows are wider than itself,
    found by a word ("Saved URLs, March 2024" above URLs that hold commas), is not one; a
    wider row under another is a warning: a URL that holds the delimiter is cut unquoted.
    """
    raw = _physical_lines(text)
    lines = _list_lines(raw)
    if not lines:
        return [], None
    delimiters = _DELIMITERS
    excel = _EXCEL_SEPARATOR.fullmatch(raw[lines[0][0] - 1].strip(" "))  # sep=<tab> too
    if excel:
        if len(lines) == 1:  # the separator's line alone: an empty table
            return [], None
        lines, delimiters = lines[1:], excel.group(1)
    header = _find_header(raw, lines, delimiters, name)
    if header is None:
        return lines, None
    header_at, (delimiter, names, candidates) = header
    rows = _table_rows(raw, header_at, delimiter, name)
    index = _column_read(rows, candidates, len(names))
    wider = [start for start, row in rows if _width(row) > len(names)]
    if rows and len(wider) == len(rows) and names[index].lower() not in URL_COLUMN_NAMES:
        return lines, None
    if index not in candidates:
        LOGGER.warning(
            "%s: reading its %r column, the first that holds URLs (none in %s, named as a URL "
            "column)",
            name, names[index], " or ".join(repr(names[i]) for i in candidates),
        )  # fmt: skip
    elif len(candidates) > 1 and [names[i].lower() for i in candidates].count("url") != 1:
        LOGGER.warning(
            "%s: reading its %r column, of %d that could hold the URL (%s); to read another, "
            "make it the only column named url",
            name, names[index], len(candidates), ", ".join(repr(names[i]) for i in candidates),
        )  # fmt: skip
    if wider:
        LOGGER.warning(
            "%s line %d: a row with more cells than its header (%d such rows): a URL that holds "
            "%r is cut there unless quoted",
            name, wider[0], len(wider), delimiter,
        )  # fmt: skip
    for start, column, lines, urls in _quotes_left_open(rows, index, delimiter):
        LOGGER.warning(
            "%s line %d: its %r cell runs over lines %d-%d, %d of them with a URL (a quote left "
            "open?): their URLs are not read",
            name, start, names[column] if column < len(names) else f"#{column + 1}", start,
            start + lines - 1, urls,
        )  # fmt: skip
    cells = [(start, row[index].strip() if index < len(row) else "") for start, row in rows]
    return cells, names[index]


def _quotes_left_open(
    rows: list[tuple[int, list[str]]], index: int, delimiter: str
) -> Iterator[tuple[int, int, int, int]]:
    """The cells, outside the URL column (`index`), that run over several lines holding URLs:
    a quote left open, which took the rows below into one cell, silently (its line, column,
    lines, and lines with a URL). The URL column's own is a skipped line (_read_entries)."""
    for start, row in rows:
        for column, cell in enumerate(row):
            if column == index or "\n" not in cell:
                continue
            lines = cell.rstrip("\n").split("\n")
            urls = sum(
                any(_is_http_url(part.strip().strip('"')) for part in line.split(delimiter))
                for line in lines
            )
            if urls:
                yield start, column, len(lines), urls


def read_url_list(text: str, base_url: str | None = None, name: str = "URL list") -> list[str]:
    """URLs from a list, one per line; blank lines and # comments skipped, duplicates dropped.

    A trailing `# note` after a URL is ignored; /paths resolve against base_url when given; lines
    that are not URLs are logged with the list's name and their line number, and skipped. A CSV
    (or semicolon, tab or bar separated) table whose header names a URL column is read by that
    column.
    """
    urls, skipped = _read_entries(*_list_entries(text, name), base_url, name)
    _log_skipped(skipped, name)
    return urls


_TABLE_ROW = re.compile(r"https?://[^\s,;|]+[,;|]")  # a URL, then a cell delimiter
_HEADER_WANTED = "; a table's rows are read by its URL column when a header line names it"
MAX_SKIPPED_LOGGED = 20  # a list's skipped lines logged one by one; the rest are counted


def _read_entries(
    entries: list[tuple[int, str]], column: str | None, base_url: str | None, name: str
) -> tuple[list[str], list[str]]:
    """The URLs of a list's entries (_list_entries), and why each skipped one was skipped."""
    urls: list[str] = []
    seen: set[str] = set()
    skipped: list[str] = []
    for number, entry in entries:
        url = _url_list_line(entry, base_url)
        if url is None and column and not entry:
            skipped.append(f"{name} line {number} skipped: its {column} column is empty")
        elif column and "\n" in entry:
            skipped.append(
                f"{name} line {number} skipped: its {column} column runs over several lines "
                "(a quote left open?)"
            )
        elif url is None:
            where = f" (its {column} column)" if column else ""
            table = "" if column or not _TABLE_ROW.match(entry) else _HEADER_WANTED
            skipped.append(
                f"{name} line {number} skipped: {entry!r}{where} is not an http(s) URL{table}"
            )
        elif url not in seen:
            seen.add(url)
            urls.append(url)
    return urls, skipped


def _is_json(text: str) -> bool:
    """Whether the whole text is JSON: a list whose first line only begins with [ is a list."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _log_skipped(skipped: list[str], name: str) -> None:
    """A warning per skipped line, up to MAX_SKIPPED_LOGGED, then one that counts the rest."""
    for message in skipped[:MAX_SKIPPED_LOGGED]:
        LOGGER.warning("%s", message)
    if len(skipped) > MAX_SKIPPED_LOGGED:
        more = len(skipped) - MAX_SKIPPED_LOGGED
        LOGGER.warning("%s: %d more lines skipped, not logged one by one", name, more)


def read_url_list_document(text: str, base_url: str | None, location: str) -> list[str]:
    """The URLs of a URL list file or document; an HTML page, or a list none of whose lines is
    a URL, is refused: read line by line, a page's 2 000 lines were each a warning, and its
    `/*<![CDATA[*/` lines requested as paths of its site. A refused list's lines are not logged
    one by one: the refusal names the first."""
    if _HTML_START.match(text[:4096].lstrip("\ufeff").encode("utf-8", "replace")):
        raise SourceError(
            "not_a_url_list",
            f"{location} is an HTML page, not a URL list (one URL a line); pass the page with "
            "--url, or its site's feed or sitemap",
        )
    start = text[:4096].lstrip("\ufeff")
    if _XML_DOCUMENT.match(start) or (_JSON_DOCUMENT.match(start) and _is_json(text)):
        what = "XML (a sitemap or feed?)" if start.lstrip().startswith("<") else "JSON"
        raise SourceError(
            "not_a_url_list",
            f"{location} is {what}, not a URL list (one URL a line); pass a sitemap with "
            '--sitemap (kind "sitemap"), a feed with --feed (kind "feed")',
        )  # a one-line sitemap was read as a header alone: an empty list, without a word
    name = f"URL list {location}"
    entries, column = _list_entries(text, name)  # read once, for the URLs and the refusal
    urls, skipped = _read_entries(entries, column, base_url, name)
    if urls or not entries:  # a table's header alone is an empty list, as a comment alone is
        _log_skipped(skipped, name)
        return urls
    if column:
        raise SourceError(
            "no_urls",
            f"URL list {location}: none of its {len(entries)} rows has an http(s) URL in its "
            f"{column!r} column (first: {entries[0][1][:80]!r})",
        )
    raise SourceError(
        "no_urls",
        f"URL list {location}: none of its {len(entries)} lines is an http(s) URL (one URL a "
        f"line, anything after it past a space or tab, or a table with a url column; first "
        f"line: {entries[0][1][:80]!r})",
    )


# ---------------------------------------------------------------------------------------------
# Saved pages on disk


def _is_page_file(path: Path) -> bool:
    return path.name.lower().endswith(PAGE_SUFFIXES)


RESOURCE_FOLDER_SUFFIX = "_files"  # a browser's "Web page, complete": X.html and X_files/


def _walk_files(root: Path) -> tuple[list[Path], int]:
    """Every file under root in sorted order, and how many were left in saved pages' resource
    folders. A symlinked folder is read, once: a loop, or a folder linked twice, adds nothing
    (it was skipped, and a folder of links alone read as `0 other files`). A saved page's
    `X_files/` beside its `X.html` holds the page's frames and scripts, not pages: an ad's frame
    was loaded as an article."""
    files, seen, resources = [], set(), 0
    for directory, subdirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:
            subdirs.clear()
            continue
        seen.add(real)
        subdirs.sort()
        pages = {name.lower() for name in names}
        for name in list(subdirs):
            if _is_resource_folder(name, pages):
                subdirs.remove(name)
                resources += sum(len(found) for _, _, found in os.walk(Path(directory, name)))
        files.extend(Path(directory, name) for name in names)
    return sorted(files), resources


def _is_resource_folder(name: str, files: set[str]) -> bool:
    """Whether a folder is the `X_files` a browser saved beside the page `X.html` (or .htm, in
    any case: `X.HTML`), `files` being the lower-cased names of the files beside it."""
    if not name.lower().endswith(RESOURCE_FOLDER_SUFFIX):
        return False
    stem = name[: -len(RESOURCE_FOLDER_SUFFIX)].lower()
    return f"{stem}.html" in files or f"{stem}.htm" in files


def _local_path(location: str) -> Path:
    """A path source's location as a path: a `file://` URI (as the fetches table shows pages) is
    the file it names (it was read as a folder named `file:`)."""
    parts = urlsplit(location)
    if parts.scheme.lower() != "file":
        return Path(location).expanduser()
    if parts.netloc not in ("", "localhost"):  # file://server/share: another machine's
        raise SourceError(
            "not_found",
            f"path {location!r} names a file on another machine ({parts.netloc}); give a path "
            "on this one, or mount the share and give its path",
        )
    return Path(url2pathname(parts.path))


def discover_files(path: str, source_name: str) -> list[WorkItem]:
    """Saved pages (.html, .htm, gzipped or not, and .txt scrapes) in a file or directory tree.

    Each becomes a WorkItem with the file's absolute file:// URI; other files are counted and
    skipped.
    """
    root = _local_path(path)
    if not root.exists():
        raise SourceError(
            "not_found", f"path source {source_name!r}: {root} does not exist; fix its location"
        )
    if not root.is_dir():  # a file, or a FIFO named like a page (refused as it is read)
        if not _is_page_file(root):
            raise SourceError(
                "unsupported_file",
                f"path source {source_name!r}: {root} is not one of {', '.join(PAGE_SUFFIXES)}",
            )
        return [WorkItem(url=_page_path(root).as_uri(), source_name=source_name)]
    files, resources = _walk_files(root)
    pages = [f for f in files if _is_page_file(f)]
    LOGGER.log(
        logging.INFO if pages else logging.WARNING,  # an empty folder read silently as done
        "path source %r: %d page files, %d other files ignored under %s%s",
        source_name,
        len(pages),
        len(files) - len(pages),
        root,
        f", and {resources} files of saved pages' resource folders (X_files)" if resources else "",
    )
    uris = dict.fromkeys(_page_path(f).as_uri() for f in pages)  # a file linked twice: once
    return [WorkItem(url=uri, source_name=source_name) for uri in uris]


def _page_path(path: Path) -> Path:
    """The file a page's path names, its symlinks resolved; a dangling symlink as it is, so its
    row names it (`not_found`), not the missing file it points to."""
    return path.resolve() if path.exists() else Path(_absolute_path(str(path)))


# ---------------------------------------------------------------------------------------------
# Getting source documents


def _document_url(location: str) -> str:
    """http(s) and file:// URLs as they are; a plain path becomes its absolute file:// URI."""
    scheme = urlsplit(location).scheme.lower()
    if scheme in _HTTP_SCHEMES or scheme == "file":
        return location
    return Path(_absolute_path(location)).as_uri()


def _get_document(
    location: str, source: Source, batch: FetchBatch, accept: Literal["feed", "list"]
) -> FetchResult:
    """Fetch a source document from the web, or read it from disk for file locations."""
    return fetch_in_batch(_document_url(location), batch, accept=accept, source_name=source.name)


def _failure(url: str, source: Source, outcome: str, error: str) -> FetchResult:
    """A fetch-log record for a source document that was not (or could not be) fetched."""
    return FetchResult(
        url=url, source_name=source.name, outcome=outcome, error=error, fetched_at=datetime.now(UTC)
    )


def _mark_failed(result: FetchResult, error: SourceError) -> None:
    """A fetched document that could not be used: record why, drop the body."""
    result.outcome, result.error = error.kind, str(error)
    result.html = None
    result.body = None


# ---------------------------------------------------------------------------------------------
# Expanding each kind of source


def _expand_urls(source: Source, batch: FetchBatch) -> Discovery:
    """A URL list: inline (from the command line), a file, or an http(s) URL of a list."""
    if "inline" in source.options:
        urls = read_url_list("\n".join(source.options["inline"]))
        return Discovery(items=[WorkItem(url=u, source_name=source.name) for u in urls])
    result = _get_document(source.location, source, batch, "list")
    found = Discovery(fetches=[result])
    if not result.ok:
        return found
    base = result.final_url or source.location
    try:
        urls = read_url_list_document(
            result.html or "", base if _is_http_url(base) else None, source.location
        )
    except SourceError as error:
        _mark_failed(result, error)
        return found
    found.items = [WorkItem(url=u, source_name=source.name) for u in urls]
    return found


def _expand_feed(source: Source, batch: FetchBatch) -> Discovery:
    """A feed: every entry is kept; each entry with a link becomes a work item."""
    result = _get_document(source.location, source, batch, "feed")
    found = Discovery(fetches=[result])
    if not result.ok:
        return found
    try:
        url = result.final_url or source.location
        parsed = read_feed(result.body or b"", url, source.name, result.encoding)
    except SourceError as error:
        _mark_failed(result, error)
        return found
    result.error, result.body = parsed.problem, None  # parsed: the text (html) stays for the log
    found.feed_entries = _limited(parsed.entries, source)
    found.items = [
        WorkItem(url=e.link, source_name=source.name, feed_entry=e)
        for e in found.feed_entries
        if e.link
    ]
    return found


def _fetch_sitemap(
    url: str, source: Source, batch: FetchBatch
) -> tuple[FetchResult, ParsedSitemap]:
    result = _get_document(url, source, batch, "feed")
    if not result.ok:
        return result, ParsedSitemap([], [])
    try:
        parsed = read_sitemap(result.body or b"", result.final_url or url)
    except SourceError as error:
        _mark_failed(result, error)
        return result, ParsedSitemap([], [])
    result.error, result.body = parsed.problem, None  # parsed: the text (html) stays for the log
    return result, parsed


def _news_entry(
    sitemap_url: str, page_url: str, news: tuple[str | None, datetime | None] | None, source: Source
) -> FeedEntry | None:
    """What a Google News sitemap says of a page, read as a feed entry's title and time would be:
    they fill what the page lacks (its own stated time wins). Kept in feed_entries, under the
    sitemap's URL, so a reclean fills the page's gaps with it again. None for a page of a plain
    sitemap."""
    if news is None:
        return None
    title, published = news
    return FeedEntry(
        feed_url=sitemap_url,
        entry_key=page_url,
        source_name=source.name,
        link=page_url,
        title=title,
        summary=None,
        author=None,
        published_at=published,
    )


def _skipped_sitemap(url: str, source: Source, reason: str) -> FetchResult:
    LOGGER.warning("sitemap source %r: not visiting %s: %s", source.name, url, reason)
    return _failure(url, source, "sitemap_limit", reason)


def _expand_sitemap(source: Source, batch: FetchBatch) -> Discovery:
    """A sitemap or sitemap index, breadth first; bounded in depth and count, loops visited once.

    With a `limit`, no further sitemaps are fetched once enough page URLs were found.
    """
    found, limit = Discovery(), _source_limit(source)
    trusts_lastmod = source.trusts_lastmod()
    queue: deque[tuple[str, int]] = deque([(source.location, 0)])
    visited: set[str] = {urldefrag(source.location).url}
    while queue and (limit is None or len(found.items) < limit):
        url, depth = queue.popleft()
        if len(found.fetches) >= MAX_SITEMAPS_PER_SOURCE:
            reason = f"more than {MAX_SITEMAPS_PER_SOURCE} sitemaps in one source"
            found.fetches.append(_skipped_sitemap(url, source, reason))
            continue
        result, parsed = _fetch_sitemap(url, source, batch)
        found.fetches.append(result)
        visited.add(urldefrag(result.final_url or url).url)
        found.items.extend(
            WorkItem(
                url=u,
                source_name=source.name,
                feed_entry=_news_entry(url, u, parsed.news.get(u), source),
                sitemap_lastmod=lastmod if trusts_lastmod else None,
            )
            for u, lastmod in parsed.pages
        )
        for child in parsed.children:
            if urldefrag(child).url in visited:
                continue
            visited.add(urldefrag(child).url)
            if depth + 1 > MAX_SITEMAP_DEPTH:
                reason = f"nested deeper than {MAX_SITEMAP_DEPTH} sitemap levels"
                found.fetches.append(_skipped_sitemap(child, source, reason))
            else:
                queue.append((child, depth + 1))
    found.items = _limited(found.items, source)
    found.feed_entries = [item.feed_entry for item in found.items if item.feed_entry is not None]
    return found


def _expand_path(source: Source) -> Discovery:
    try:
        return Discovery(items=discover_files(source.location, source.name))
    except SourceError as error:
        LOGGER.warning("%s", error)
        uri = Path(source.location).expanduser().absolute().as_uri()
        return Discovery(fetches=[_failure(uri, source, error.kind, str(error))])


def _source_limit(source: Source) -> int | None:
    """The source's `limit`, its options checked (a bad one is the source's failure)."""
    try:
        source.trusts_lastmod()
        return source.item_limit()
    except ValueError as err:
        raise SourceError("bad_option", f"source {source.name!r}: {err}") from None


def _limited(values: list[Any], source: Source) -> list[Any]:
    limit = _source_limit(source)
    return values if limit is None else values[:limit]


def expand_source(source: Source, batch: FetchBatch) -> Discovery:
    """Everything one source yields, its `limit` option applied to the items (and feed entries)."""
    _source_limit(source)  # refuse a bad option before any fetching
    if source.kind == "urls":
        found = _expand_urls(source, batch)
    elif source.kind == "feed":
        found = _expand_feed(source, batch)
    elif source.kind == "sitemap":
        found = _expand_sitemap(source, batch)
    elif source.kind == "path":
        found = _expand_path(source)
    else:  # kinds are checked where sources are made: settings._check_source, sources_from_cli
        assert_never(source.kind)
    found.items = _limited(found.items, source)  # expand_sources keeps one item per article
    return found


def _unique_items(items: list[WorkItem]) -> list[WorkItem]:
    """One item per article (the url_key that articles are stored by, so `/a#comments` and
    `/a?utm_source=rss` are `/a`): each page is fetched once; the first item wins."""
    return _first_by_key(items, lambda item: url_key(item.url))


def _bad_source(source: Source, error: SourceError) -> FetchResult:
    LOGGER.warning("%s", error)
    return _failure(source.location, source, error.kind, str(error))


def expand_sources(sources: list[Source], settings: FetchSettings) -> Discovery:
    """Expand every source into work items; a bad source is recorded and never stops the others,
    nor does one that hits an unexpected error (recorded as outcome `internal_error`).

    Args:
        sources: configured and command-line sources, in priority order.
        settings: fetch settings for feed, sitemap and URL-list documents, all fetched in one
            batch: one robots.txt read per origin, the per-host delay kept between documents.

    Returns:
        A Discovery: items de-duplicated by article URL key across sources (the first wins), every
        feed entry (also those without a fetchable page), and the source documents' fetches.
    """
    combined = Discovery()
    seen_entries: set[tuple[str, str]] = set()
    with open_batch(settings) as batch:  # robots.txt once per origin, the per-host delay held
        for source in sources:
            try:
                found = expand_source(source, batch)
            except SourceError as error:
                combined.fetches.append(_bad_source(source, error))
                continue
            except _TRANSIENT_ERRORS:
                raise  # the task retries network hiccups that escaped the fetcher
            except Exception as error:  # noqa: BLE001 - recorded as this source's failure
                doing = f"expanding source {source.name!r}"
                broken = internal_error_result(source.location, source.name, error, doing)
                combined.fetches.append(broken)
                continue
            combined.items.extend(found.items)
            combined.fetches.extend(found.fetches)
            for entry in found.feed_entries:
                if (entry.feed_url, entry.entry_key) not in seen_entries:
                    seen_entries.add((entry.feed_url, entry.entry_key))
                    combined.feed_entries.append(entry)
    combined.items = _unique_items(combined.items)
    return combined


# ---------------------------------------------------------------------------------------------
# Command-line sources and the Prefect task


def _cli_location(value: str) -> str:
    """URLs stay as they are; local paths become absolute so runs record where they read."""
    if urlsplit(value).scheme.lower() in _HTTP_SCHEMES | {"file"}:
        return value
    return _absolute_path(value)


def _absolute_path(value: str) -> str:
    """An absolute, normalised path (`news/` is `news`), its symlinks not resolved: a shell's
    `<(…)` is /dev/fd/63, which resolves to a name no one can open (/proc/…/fd/pipe:[…])."""
    return os.path.abspath(Path(value).expanduser())


def sources_from_cli(
    urls: list[str],
    urls_files: list[str],
    feeds: list[str],
    sitemaps: list[str],
    paths: list[str],
) -> list[Source]:
    """One-off inputs from the command line as named sources, so their runs are recorded too;
    an input given twice (`--path news` and `--path news/`) is one source.

    Raises:
        ValueError: a --url that is not an absolute http(s) URL, or a blank file, folder or
            feed (which would name the working folder), refused before any work.
    """
    # a space in a pasted URL is %20, as a browser sends it: as a list's line, it was cut there
    urls = [re.sub(r"\s", lambda m: quote(m[0]), url.strip()) for url in urls]
    bad = [url for url in urls if not _is_http_url(url)]
    if bad:
        raise ValueError(f"--url {bad[0]!r} is not an http(s) URL; write it as https://host/path")
    found: list[Source] = []
    if urls:
        found.append(
            Source(name="cli:url", kind="urls", location="<command line>", options={"inline": urls})
        )
    kinds: list[tuple[SourceKind, str, list[str]]] = [
        ("urls", "--urls-file", urls_files),
        ("feed", "--feed", feeds),
        ("sitemap", "--sitemap", sitemaps),
        ("path", "--path", paths),
    ]
    for kind, flag, values in kinds:
        if any(not value.strip() for value in values):
            raise ValueError(f"{flag} is given no value; name a file, a folder or a URL")
        web = [value for value in values if kind == "path" and _is_http_url(value.strip())]
        if web:
            raise ValueError(
                f"--path {web[0]!r} is a URL; --path reads saved pages on disk (a file or a "
                "folder): for a page on the web use --url"
            )
        for location in dict.fromkeys(map(_cli_location, values)):
            found.append(Source(name=f"cli:{kind}:{location}", kind=kind, location=location))
    return found


def summarize_discovery(discovery: Discovery) -> str:
    """One log line: items per source, feed entries, failed source documents."""
    per_source = Counter(item.source_name for item in discovery.items)
    failures = [f for f in discovery.fetches if not f.ok]
    parts = [f"{name}: {count}" for name, count in per_source.items()]
    text = (
        f"{len(discovery.items)} items ({'; '.join(parts) or 'none'}), "
        f"{len(discovery.feed_entries)} feed entries, "
        f"{len(discovery.fetches)} source documents, {len(failures)} failed"
    )
    if failures:
        text += " (" + "; ".join(f"{f.url}: {f.outcome}" for f in failures[:10]) + ")"
    return text


def _task_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run logger inside a run; the module logger when called through .fn()."""
    try:
        return get_run_logger()
    except MissingContextError:
        return LOGGER


def _retry_transient(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry only network hiccups that escaped the fetcher; anything else fails at once."""
    try:
        state.result()
    except _TRANSIENT_ERRORS:
        return True
    except BaseException:  # noqa: BLE001 - any other failure is permanent: do not retry
        return False
    return False


@task(
    name="discover_items",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=_retry_transient,
    cache_policy=NO_CACHE,
)
def discover_items(sources: list[Source], settings: FetchSettings) -> Discovery:
    """Expand the sources into work items and log what each source yielded.

    Args:
        sources: the sources to expand.
        settings: fetch settings for the source documents.

    Returns:
        The Discovery from expand_sources.
    """
    logger = _task_logger()
    discovery = expand_sources(sources, settings)
    logger.info("sources: %s", summarize_discovery(discovery))
    for failed in (f for f in discovery.fetches if not f.ok):
        logger.warning(
            "source %s: %s %s: %s", failed.source_name, failed.url, failed.outcome, failed.error
        )
    return discovery
