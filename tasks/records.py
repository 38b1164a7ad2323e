"""The plain records that flow between pipeline stages: sources, work items, fetches, documents."""

from __future__ import annotations

import builtins
import hashlib
import zlib
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

SourceKind = Literal["urls", "feed", "sitemap", "path"]
# As the warehouse stores pages (pages.body_zlib): a load stores `page` as is. Level 1 compresses
# a benchmark page (155 kB of UTF-8) in 1.0 ms to 24% of its size; level 6, 2.7 ms to 20%: a fetch
# spent more CPU compressing the page than getting it.
PAGE_ZLIB_LEVEL = 1


@dataclass(frozen=True)
class Source:
    """A configured place to find articles: a URL list, a feed, a sitemap or files on disk."""

    name: str
    kind: SourceKind
    location: str
    options: dict[str, Any] = field(default_factory=dict)

    def item_limit(self) -> int | None:
        """The `limit` option, the most items to take; ValueError if it is no count, or 0 (which
        took nothing, silently, where it was meant as "no limit")."""
        limit = self.options.get("limit")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(
                f"limit must be a whole number >= 1, not {limit!r} (leave it out for no limit)"
            )
        return limit

    def trusts_lastmod(self) -> bool:
        """The `trust_lastmod` option (a sitemap's): false where a site's lastmod lags its edits,
        so that every page is asked again; ValueError if it is not true or false."""
        trust = self.options.get("trust_lastmod", True)
        if not isinstance(trust, bool):
            raise ValueError(f"trust_lastmod must be true or false, not {trust!r}")
        return trust


@dataclass
class FeedEntry:
    """One entry of an RSS, Atom or JSON feed, kept even when its page cannot be fetched."""

    feed_url: str
    entry_key: str  # guid/id, else the link, else a hash of title+summary
    source_name: str
    link: str | None
    title: str | None
    summary: str | None
    author: str | None
    published_at: datetime | None  # UTC


@dataclass
class WorkItem:
    """One page to get: an http(s) URL or a file:// URI, plus what its source said of it."""

    url: str
    source_name: str
    feed_entry: FeedEntry | None = None  # the feed's entry, or a Google News sitemap's <news:news>
    sitemap_lastmod: datetime | None = None


class KnownFetch(NamedTuple):
    """A URL's latest answer (200 or 304) in the warehouse: when it came, the URL it led to, and
    the validators its server gave, for a conditional GET."""

    fetched_at: datetime | None  # None if it was never asked (only rows of pages not requested)
    final_url: str | None
    etag: str | None
    last_modified: str | None


@dataclass
class FetchResult:
    """What happened when one URL was tried; every tried URL gets one, success or not.

    `outcome` is "ok", "not_modified", or an error kind such as "timeout", "http_404",
    "too_large", "content_type", "robots", "private_host", "bad_scheme", "connection",
    "redirect_loop", "too_many_redirects", "decode".
    """

    url: str
    source_name: str
    outcome: str
    final_url: str | None = None
    status: int | None = None
    error: str | None = None
    bytes: int = 0
    elapsed_ms: float = 0.0
    attempts: int = 1
    fetched_at: datetime | None = None
    content_type: str | None = None
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    html: InitVar[str | None] = None  # decoded body, only when outcome == "ok"; kept in `page`
    page: builtins.bytes | None = field(default=None, repr=False)  # `html`, compressed (below)
    page_sha1: str | None = field(default=None, repr=False)  # of `html` as UTF-8, set with it
    page_size: int = field(default=0, repr=False)  # `html`'s UTF-8 bytes, set with it
    body: builtins.bytes | None = None  # raw (gunzipped) feed/sitemap bytes, when ok
    item: WorkItem | None = None

    def __post_init__(self, html: str | None) -> None:
        if html is not None:
            self.html = html

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _decompressed_html(fetch: FetchResult) -> str | None:
    return (
        None if fetch.page is None else zlib.decompress(fetch.page).decode("utf-8", "surrogatepass")
    )


def _compress_html(fetch: FetchResult, html: str | None) -> None:
    """Keep the page compressed, with the hash and size the warehouse files it under (computed
    here, where the bytes are at hand, so a load need not decompress every page again)."""
    utf8 = None if html is None else html.encode("utf-8", "surrogatepass")
    fetch.page = None if utf8 is None else zlib.compress(utf8, PAGE_ZLIB_LEVEL)
    fetch.page_sha1 = None if utf8 is None else hashlib.sha1(utf8).hexdigest()
    fetch.page_size = 0 if utf8 is None else len(utf8)


# A decoded page takes 2 to 4 bytes a character in memory (most news pages hold a curly quote or
# an emoji), about 430 kB a page in the benchmark corpus: three batches in flight kept 260 MB in
# the flow process. So a page is kept as zlib-compressed UTF-8 (`page`, tens of kB), sent to the
# extraction workers and stored in the warehouse in that form. `html` is an init argument and
# this property, not a field, so Prefect's walk over task arguments never decompresses it.
FetchResult.html = property(_decompressed_html, _compress_html)  # type: ignore[assignment]


@dataclass
class Document:
    """A cleaned page: main text and metadata, or a rejection with its reason."""

    url: str  # final URL fetched (or file:// URI)
    source_name: str
    canonical_url: str | None
    title: str | None
    author: str | None
    site_name: str | None
    language: str | None
    published_at: datetime | None  # UTC
    published_offset: str | None  # the original UTC offset, e.g. "+04:30", when known
    text: str
    rejected_reason: str | None = None  # None when the document is usable
    fetch: FetchResult | None = None

    @property
    def rejected(self) -> bool:
        return self.rejected_reason is not None
