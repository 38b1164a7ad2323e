"""Bulk, idempotent writes of one ingest batch in one short transaction."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from tasks.dedupe import (
    BatchMatch,
    Fingerprint,
    band_buckets,
    match_batch,
    minhash_signature,
    near_duplicate_of,
    shares_a_story,
    shingle_set,
    still_one_story,
    url_key,
)
from tasks.records import Document, FeedEntry, FetchResult, Source
from warehouse.band_index import BandIndex, IndexEntry, opened_band_index
from warehouse.db import load_extension, sql, write_transaction

ARTICLE_COLUMNS = [
    "id", "url_key", "url", "canonical_url", "canonical_key", "source_name", "title", "author",
    "site_name", "language", "published_at", "published_offset", "text", "text_hash", "version",
    "cluster_id", "duplicate_of", "duplicate_kind", "similarity", "fetch_id", "first_seen_at",
    "last_seen_at",
]  # fmt: skip
# What a load reads again from an article seen with the same text and headline (touch_articles).
# Not its publication time: its capture events' dates come from it, and are read again only with
# a new version; a page's guessed date may move as its sidebars do. A reclean takes it too
# (reclean_touch_articles), and has the events of an article whose time moves read again.
_REREAD_COLUMNS = ("author", "site_name", "language")
_RECLEAN_COLUMNS = (*_REREAD_COLUMNS, "published_at", "published_offset")
_TS = pa.timestamp("us", tz="UTC")


@dataclass
class LoadCounts:
    """What one load changed: the numbers the run report adds up."""

    fetched: int = 0
    not_modified: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: int = 0  # pages of an article this run had loaded already (two URLs, one page)
    duplicates: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    feed_entries: int = 0
    superseded: int = 0  # pages a reclean read whose article a run fetched again meanwhile

    def add(self, other: LoadCounts) -> None:
        names = ("fetched", "not_modified", "new", "updated", "unchanged", "repeated")
        names += ("feed_entries",)
        for name in (*names, "superseded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed.update(other.failed)
        self.duplicates.update(other.duplicates)
        self.rejected.update(other.rejected)


@dataclass
class _Match:
    """Where an incoming article belongs: its cluster and how we know."""

    cluster_id: str
    kind: str
    similarity: float | None = None


@dataclass(frozen=True)
class _Stored:
    """What a load compares an incoming article with: its stored version's text and headline."""

    text_hash: str
    version: int
    cluster_id: str
    title: str | None


def load_batch_rows(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None,
    sources: list[Source],
    fetches: list[FetchResult],
    documents: list[Document],
    prints: list[Fingerprint],
    feed_entries: list[FeedEntry],
    reached: set[str] | None = None,
) -> LoadCounts:
    """Write one batch atomically; re-loading the same batch changes no article counts.

    `reached`: the article ids the run's earlier loads reached, which this one adds its own to
    once it commits: an article reached again (two links redirecting to one page, in this batch
    or an earlier one) is `repeated`, not `unchanged`.

    On a DuckLake another worker may commit meanwhile: then the whole batch is decided and
    written again on the new snapshot (write_transaction), so dedupe still sees every article;
    each attempt first brings the band index up to that snapshot.
    """

    with opened_band_index(conn) as index:

        def write_batch() -> LoadCounts:
            if index is not None:
                index.settle(conn)
            now = datetime.now(UTC)
            counts = LoadCounts()
            _upsert_sources(conn, sources, now)
            fetch_ids = _insert_fetches(conn, run_id, fetches, counts)
            counts.feed_entries = _insert_feed_entries(conn, feed_entries, now)
            usable = [d for d in documents if not d.rejected]
            _upsert_rejected(conn, [d for d in documents if d.rejected], fetch_ids, now, counts)
            _load_articles(conn, index, usable, prints, fetch_ids, now, counts, reached=reached)
            _touch_not_modified(conn, fetches, now)
            return counts

        counts = write_transaction(conn, write_batch)
        if index is not None:
            index.confirm()
    if reached is not None:
        reached.update(fp.article_id for fp in prints)
    return counts


@dataclass(frozen=True)
class _RecleanTarget:
    """What a stored page a reclean read stands for now: its article, or its rejected URL."""

    article_id: str | None
    url_key: str | None
    title: str | None
    first_seen_at: datetime | None  # the rejected row's, for a page rejected before
    last_seen_at: datetime | None


def reclean_batch_rows(
    conn: duckdb.DuckDBPyConnection,
    *,
    fetch_ids: list[int],
    documents: list[Document],
    prints: list[Fingerprint],
) -> LoadCounts:
    """Write what a reclean read again from stored pages: `documents[i]` is the page of
    `fetch_ids[i]`, `prints` the usable documents' fingerprints, in order.

    An article's page read again is that article, whatever its URL reads as now, and keeps its
    stored headline if neither the page nor a stored entry gives one (a Google News sitemap's
    before its entries were stored). A new text or headline is a new version; the same ones
    refresh its byline, site name, language and publication time (reclean_touch_articles). A URL
    rejected before becomes an article if its page reads as one now, seen when its rejected row
    says. Nothing is a sighting: no fetch is logged, no last_seen_at moves. A page that reads as
    rejected now changes nothing, and one whose article was fetched again meanwhile is left alone.
    """
    pairs = list(zip(documents, fetch_ids, strict=True))
    by_url = {doc.fetch.url: fetch_id for doc, fetch_id in pairs if doc.fetch is not None}
    if len(by_url) != len(pairs):
        raise ValueError("a reclean batch reads each URL once, and each page with its fetch")

    with opened_band_index(conn) as index:

        def write_batch() -> LoadCounts:
            if index is not None:
                index.settle(conn)
            counts = LoadCounts()
            targets = _reclean_targets(conn, fetch_ids)
            usable = iter(prints)
            docs, fps, first_seen = [], [], {}
            for fetch_id, doc in zip(fetch_ids, documents, strict=True):
                fp = None if doc.rejected else next(usable)
                target = targets.get(fetch_id)
                if target is None:
                    counts.superseded += 1
                elif fp is None:
                    counts.rejected[doc.rejected_reason or "unknown"] += 1
                elif target.article_id is not None:
                    fps.append(replace(fp, article_id=target.article_id, url_key=target.url_key))
                    docs.append(replace(doc, title=doc.title or target.title))
                else:
                    first_seen[fp.article_id] = (target.first_seen_at, target.last_seen_at)
                    fps.append(fp)
                    docs.append(doc)
            now = datetime.now(UTC)
            _load_articles(conn, index, docs, fps, by_url, now, counts, first_seen)
            return counts

        counts = write_transaction(conn, write_batch)
        if index is not None:
            index.confirm()
    return counts


def _reclean_targets(
    conn: duckdb.DuckDBPyConnection, fetch_ids: list[int]
) -> dict[int, _RecleanTarget]:
    conn.register("wanted_fetches", pa.table({"fetch_id": pa.array(fetch_ids, pa.int64())}))
    rows = conn.execute(sql("reclean_targets")).fetchall()
    conn.unregister("wanted_fetches")
    targets: dict[int, _RecleanTarget] = {}
    for fetch_id, *target in rows:
        targets.setdefault(fetch_id, _RecleanTarget(*target))
    return targets


def _upsert_sources(conn: duckdb.DuckDBPyConnection, sources: list[Source], now: datetime) -> None:
    if not sources:
        return
    table = pa.table(
        {
            "name": [s.name for s in sources],
            "kind": [s.kind for s in sources],
            "location": [s.location for s in sources],
            "options": [json.dumps(s.options, sort_keys=True, default=str) for s in sources],
            "seen_at": pa.array([now] * len(sources), type=_TS),
        }
    )
    conn.register("incoming_sources", table)
    conn.execute(sql("upsert_sources"))
    conn.unregister("incoming_sources")


def _insert_fetches(
    conn: duckdb.DuckDBPyConnection,
    run_id: str | None,
    fetches: list[FetchResult],
    counts: LoadCounts,
) -> dict[str, int]:
    """Log every fetch (and keep each distinct body once); returns url -> fetch_id."""
    if not fetches:
        return {}
    ids = [row[0] for row in conn.execute(sql("reserve_fetch_ids"), [len(fetches)]).fetchall()]
    pages: dict[str, FetchResult] = {}  # content hash -> the first fetch of that body
    hashes: list[str | None] = []
    for fetch in fetches:
        digest = fetch.page_sha1 if fetch.ok and fetch.page is not None else None
        if digest is not None and digest not in pages:
            pages[digest] = fetch
        hashes.append(digest)
        _count_outcome(fetch, counts)
    _insert_pages(conn, pages)
    table = pa.table(
        {
            "fetch_id": pa.array(ids, type=pa.int64()),
            "run_id": [run_id] * len(fetches),
            "source_name": [f.source_name for f in fetches],
            "url": [f.url for f in fetches],
            "final_url": [f.final_url for f in fetches],
            "status": pa.array([f.status for f in fetches], type=pa.int32()),
            "outcome": [f.outcome for f in fetches],
            "error": [f.error for f in fetches],
            "bytes": pa.array([f.bytes for f in fetches], type=pa.int64()),
            "elapsed_ms": pa.array([float(f.elapsed_ms) for f in fetches], type=pa.float64()),
            "attempts": pa.array([f.attempts for f in fetches], type=pa.int32()),
            "content_type": [f.content_type for f in fetches],
            "etag": [f.etag for f in fetches],
            "last_modified": [f.last_modified for f in fetches],
            "content_hash": hashes,
            "fetched_at": pa.array([f.fetched_at or datetime.now(UTC) for f in fetches], type=_TS),
        }
    )
    conn.register("incoming_fetches", table)
    conn.execute(sql("insert_fetches"))
    conn.unregister("incoming_fetches")
    return {f.url: fetch_id for f, fetch_id in zip(fetches, ids, strict=True)}


def _count_outcome(fetch: FetchResult, counts: LoadCounts) -> None:
    if fetch.ok:
        counts.fetched += 1
    elif fetch.outcome == "not_modified":
        counts.not_modified += 1
    else:
        counts.failed[fetch.outcome] += 1


def _insert_pages(conn: duckdb.DuckDBPyConnection, pages: dict[str, FetchResult]) -> None:
    """Keep each distinct body once, as the fetch already compressed it (PAGE_ZLIB_LEVEL)."""
    if not pages:
        return
    fetches = list(pages.values())
    table = pa.table(
        {
            "content_hash": list(pages),
            "url": [f.final_url or f.url for f in fetches],
            "encoding": [f.encoding for f in fetches],
            "body_zlib": pa.array([f.page for f in fetches], type=pa.binary()),
            "bytes": pa.array([f.page_size for f in fetches], type=pa.int64()),
            "fetched_at": pa.array([f.fetched_at or datetime.now(UTC) for f in fetches], type=_TS),
        }
    )
    conn.register("incoming_pages", table)
    conn.execute(sql("insert_pages"))
    conn.unregister("incoming_pages")


def _insert_feed_entries(
    conn: duckdb.DuckDBPyConnection, entries: list[FeedEntry], now: datetime
) -> int:
    """Keep each feed entry once, as the feed last gave it (first sighting kept); returns how
    many were new."""
    unique = list({(e.feed_url, e.entry_key): e for e in reversed(entries)}.values())
    if not unique:
        return 0
    table = pa.table(
        {
            "feed_url": [e.feed_url for e in unique],
            "entry_key": [e.entry_key for e in unique],
            "source_name": [e.source_name for e in unique],
            "link": [e.link for e in unique],
            "title": [e.title for e in unique],
            "summary": [e.summary for e in unique],
            "author": [e.author for e in unique],
            "published_at": pa.array([e.published_at for e in unique], type=_TS),
            "seen_at": pa.array([now] * len(unique), type=_TS),
        }
    )
    conn.register("incoming_entries", table)
    before = conn.execute("SELECT count(*) FROM feed_entries").fetchone()[0]
    conn.execute(sql("insert_feed_entries"))
    after = conn.execute("SELECT count(*) FROM feed_entries").fetchone()[0]
    conn.unregister("incoming_entries")
    return after - before


def _upsert_rejected(
    conn: duckdb.DuckDBPyConnection,
    docs: list[Document],
    fetch_ids: dict[str, int],
    now: datetime,
    counts: LoadCounts,
) -> None:
    unique = {url_key(d.url): d for d in docs}
    for doc in unique.values():
        counts.rejected[doc.rejected_reason or "unknown"] += 1
    if not unique:
        return
    table = pa.table(
        {
            "url_key": list(unique),
            "url": [d.url for d in unique.values()],
            "source_name": [d.source_name for d in unique.values()],
            "reason": [d.rejected_reason for d in unique.values()],
            "title": [d.title for d in unique.values()],
            "fetch_id": pa.array(
                [_fetch_id(d, fetch_ids) for d in unique.values()], type=pa.int64()
            ),
            "seen_at": pa.array([now] * len(unique), type=_TS),
        }
    )
    conn.register("incoming_rejected", table)
    conn.execute(sql("upsert_rejected"))
    conn.unregister("incoming_rejected")


def _fetch_id(doc: Document, fetch_ids: dict[str, int]) -> int | None:
    return fetch_ids.get(doc.fetch.url) if doc.fetch is not None else None


def _load_articles(
    conn: duckdb.DuckDBPyConnection,
    index: BandIndex | None,
    docs: list[Document],
    prints: list[Fingerprint],
    fetch_ids: dict[str, int],
    now: datetime,
    counts: LoadCounts,
    reclean_seen: dict[str, tuple[datetime, datetime]] | None = None,
    reached: set[str] | None = None,
) -> None:
    """Decide new / new version / unchanged / repeated / duplicate for each document, then write
    in bulk.

    `reclean_seen`: the batch is a reclean's (_ArticlePlan), with when its new articles were
    seen. `reached`: the article ids the run reached before this batch (load_batch_rows); one
    reached again is repeated, not unchanged: two links redirecting to one page are both
    fetched (each final URL is known only once its redirect is), and a new article read
    `unchanged` the second time."""
    if not docs:
        return
    if len(docs) != len(prints):
        raise ValueError(f"{len(docs)} documents but {len(prints)} fingerprints: they must align")
    known = _existing_articles(conn, prints)
    moving = _moving_away(conn, docs, prints, known)
    db_matches = _warehouse_matches(conn, index, prints, moving)
    in_batch = match_batch(prints)
    plan = _ArticlePlan(now=now, fetch_ids=fetch_ids, reclean_seen=reclean_seen)
    for article_id in moving:
        if known[article_id].cluster_id == article_id:
            plan.reroot(conn, article_id)
    batch_clusters: dict[int, str] = {}  # batch index -> the story it was filed under
    seen_ids: dict[str, _Stored] = {}  # the batch's articles so far
    reached_here: set[str] = set()  # the batch's article ids so far
    for position, (doc, fp) in enumerate(zip(docs, prints, strict=True)):
        stored = seen_ids.get(fp.article_id) or known.get(fp.article_id)
        again = reached is not None and (fp.article_id in reached_here or fp.article_id in reached)
        reached_here.add(fp.article_id)
        match = db_matches.get(position)
        if match is not None:  # found as the warehouse stood: its story may have a new root
            match = replace(match, cluster_id=plan.current(match.cluster_id))
        if stored is not None:
            cluster = (
                stored.cluster_id if fp.article_id in seen_ids else plan.current(stored.cluster_id)
            )
            if fp.article_id in moving and fp.article_id not in seen_ids:
                match = match or _batch_match(in_batch[position], batch_clusters)
                cluster = plan.restory(fp.article_id, match)
            batch_clusters[position] = cluster
            if stored.text_hash == fp.text_hash and stored.title == doc.title:
                plan.touch(doc, fp)
                if again:
                    counts.repeated += 1
                else:
                    counts.unchanged += 1
            else:  # the text or the headline was edited
                version = stored.version + 1
                plan.new_version(doc, fp, version, cluster)
                seen_ids[fp.article_id] = _Stored(fp.text_hash, version, cluster, doc.title)
                counts.updated += 1
            continue
        match = match or _batch_match(in_batch[position], batch_clusters)
        cluster = match.cluster_id if match else fp.article_id
        batch_clusters[position] = cluster
        seen_ids[fp.article_id] = _Stored(fp.text_hash, 1, cluster, doc.title)
        plan.new_article(doc, fp, match)
        counts.new += 1
        if match:
            counts.duplicates[match.kind] += 1
    plan.write(conn, index)


def _moving_away(
    conn: duckdb.DuckDBPyConnection,
    docs: list[Document],
    prints: list[Fingerprint],
    known: dict[str, _Stored],
) -> set[str]:
    """The stored articles whose new text here no longer tells the story of their stored one: a
    URL reused for another article (a live page, a recycled slug), a page whose reading changed.
    Their story is decided again (_ArticlePlan.restory); an edit keeps it (still_one_story).
    Before, such an article stayed in its story for good, `exact` copy of a text it no longer
    held, and unfindable as a story of its own (QA)."""
    first_texts: dict[str, np.ndarray] = {}
    for fp in prints:
        stored = known.get(fp.article_id)
        if stored is not None and stored.text_hash != fp.text_hash:
            first_texts.setdefault(fp.article_id, fp.shingles)
    if not first_texts:
        return set()
    rows = conn.execute(sql("stored_texts"), {"ids": list(first_texts)}).fetchall()
    return {
        article_id
        for article_id, text in rows
        if not still_one_story(first_texts[article_id], shingle_set(text))
    }


def _batch_match(found: BatchMatch | None, clusters: dict[int, str]) -> _Match | None:
    """A duplicate of an earlier document of this batch, filed under that document's story."""
    if found is None or found.index not in clusters:
        return None
    return _Match(clusters[found.index], found.kind, found.similarity)


def _incoming_table(prints: list[Fingerprint]) -> pa.Table:
    return pa.table(
        {
            "idx": pa.array(range(len(prints)), type=pa.int32()),
            "id": [fp.article_id for fp in prints],
            "url_key": [fp.url_key for fp in prints],
            "canonical_key": [fp.canonical_key for fp in prints],
            "text_hash": [fp.text_hash for fp in prints],
        }
    )


def _existing_articles(
    conn: duckdb.DuckDBPyConnection, prints: list[Fingerprint]
) -> dict[str, _Stored]:
    """Stored articles among the incoming ids, by id."""
    conn.register("incoming_ids", _incoming_table(prints))
    rows = conn.execute(sql("existing_articles")).fetchall()
    conn.unregister("incoming_ids")
    return {row[0]: _Stored(*row[1:]) for row in rows}


def _warehouse_matches(
    conn: duckdb.DuckDBPyConnection,
    index: BandIndex | None,
    prints: list[Fingerprint],
    moving: set[str],
) -> dict[int, _Match]:
    """For each incoming index, the stored story it duplicates: canonical URL, text, near.

    Not by the stored text of an article whose text this batch replaces with another story's
    (`moving`): a page with a text another page held until this batch was filed as an `exact`
    copy of that page, which no longer held it, and two pages that swapped texts made each
    other's stories (QA)."""
    conn.register("incoming_ids", _incoming_table(prints))
    matches: dict[int, _Match] = {}
    for idx, article_id, cluster, text in conn.execute(sql("match_canonical")).fetchall():
        # the earliest stored article sharing the canonical whose text holds this one's or is
        # held by it
        if idx in matches or article_id in moving:
            continue
        if shares_a_story(prints[idx].shingles, shingle_set(text)):
            matches[idx] = _Match(cluster, "canonical_url")
    for idx, cluster in conn.execute(sql("match_exact"), [list(moving)]).fetchall():
        matches.setdefault(idx, _Match(cluster, "exact"))
    conn.unregister("incoming_ids")
    pending = [i for i in range(len(prints)) if i not in matches]
    for idx, match in _near_matches(conn, index, prints, pending, moving).items():
        matches[idx] = match
    return matches


def _near_matches(
    conn: duckdb.DuckDBPyConnection,
    index: BandIndex | None,
    prints: list[Fingerprint],
    pending: list[int],
    moving: set[str],
) -> dict[int, _Match]:
    """LSH candidates sharing a (band, bucket), verified on their stored signatures (not those
    of the articles `moving` away from their text).

    The band index answers in time independent of the warehouse size; without it (another
    process on this machine holds a lake's index) the batch joins minhash_bands in SQL.
    """
    if not pending:
        return {}
    if index is not None:
        found = index.candidates(
            {i: prints[i].buckets for i in pending}, {i: prints[i].article_id for i in pending}
        )
        return _verified(prints, found, moving)
    bands = pa.table(
        {
            "idx": pa.array([i for i in pending for _ in prints[i].buckets], type=pa.int32()),
            "id": [prints[i].article_id for i in pending for _ in prints[i].buckets],
            "band": pa.array(
                [b for i in pending for b in range(len(prints[i].buckets))], type=pa.uint16()
            ),
            "bucket": pa.array(
                [int(x) for i in pending for x in prints[i].buckets], type=pa.uint64()
            ),
        }
    )
    conn.register("incoming_bands", bands)
    rows = conn.execute(sql("near_candidates")).fetchall()
    conn.unregister("incoming_bands")
    found: dict[int, dict[str, tuple[str, np.ndarray]]] = {}
    for idx, article_id, cluster_id, signature in rows:
        found.setdefault(idx, {})[article_id] = (cluster_id, np.asarray(signature, np.uint32))
    return _verified(prints, found, moving)


def _verified(
    prints: list[Fingerprint],
    found: dict[int, dict[str, tuple[str, np.ndarray]]],
    moving: set[str],
) -> dict[int, _Match]:
    """The candidates close enough to count: incoming index -> the story of the nearest."""
    matches = {}
    for idx, candidates in found.items():
        signatures = {a: s for a, (_, s) in candidates.items() if a not in moving}
        best = near_duplicate_of(prints[idx].signature, signatures)
        if best is not None:
            matches[idx] = _Match(candidates[best[0]][0], "near", best[1])
    return matches


def _touch_not_modified(
    conn: duckdb.DuckDBPyConnection, fetches: list[FetchResult], now: datetime
) -> None:
    """A 304 is still a sighting: the article was there, unchanged (under the URL a redirect
    led to, which is the one it is stored by)."""
    keys = [url_key(f.final_url or f.url) for f in fetches if f.outcome == "not_modified"]
    if not keys:
        return
    conn.register("touched_keys", pa.table({"url_key": keys}))
    conn.execute(sql("touch_by_url_key"), [now])
    conn.unregister("touched_keys")


class _ArticlePlan:
    """The rows one batch adds or changes, written in bulk at the end of the transaction.

    A batch fetched is a sighting of its articles, at `now`. A reclean's (`reclean_seen` given) is
    not: their last_seen_at stays, and a new one (a URL rejected before) was first and last seen
    when `reclean_seen` says, by article id.
    """

    def __init__(
        self,
        *,
        now: datetime,
        fetch_ids: dict[str, int],
        reclean_seen: dict[str, tuple[datetime, datetime]] | None = None,
    ) -> None:
        self.now = now
        self.fetch_ids = fetch_ids
        self.reclean_seen = reclean_seen
        self.seen_at = None if reclean_seen is not None else now  # NULL keeps last_seen_at
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        self.versions: list[dict] = []
        self.touched: dict[str, dict] = {}  # id -> metadata as read now (the batch's last)
        self.signatures: dict[str, tuple[IndexEntry, bool]] = {}  # id -> (latest, replaces)
        self.stories: dict[str, dict] = {}  # id -> its story's columns, where they change
        self.rerooted: dict[str, str] = {}  # a story's first article, moved away -> its new root

    def current(self, cluster_id: str) -> str:
        """The story as this batch leaves it: one whose first article moved away has a new root."""
        return self.rerooted.get(cluster_id, cluster_id)

    def reroot(self, conn: duckdb.DuckDBPyConnection, root: str) -> None:
        """The first article of a story moves away (_moving_away): the others keep their story,
        rooted at the earliest of them, with their signatures filed under it again (the band
        index's entries, and a lake's changes, say the story). A root that was an exact copy gets
        the signature it had no need of, so near copies of the story are still found."""
        members = conn.execute(sql("story_members"), [root]).fetchall()
        if not members:
            return
        new_root = members[0][0]
        self.rerooted[root] = new_root
        for article_id, text, kind, similarity, signature in members:
            first = article_id == new_root
            self.stories[article_id] = {
                "id": article_id,
                "cluster_id": new_root,
                "duplicate_of": None if first else new_root,
                "duplicate_kind": None if first else kind,
                "similarity": None if first else similarity,
            }
            if signature is None and not first:
                continue
            signature = (
                minhash_signature(text) if signature is None else np.asarray(signature, np.uint32)
            )
            entry = IndexEntry(article_id, new_root, signature, band_buckets(signature))
            self.signatures[article_id] = (entry, True)

    def restory(self, article_id: str, match: _Match | None) -> str:
        """The story of an article whose text moved away from its own: the one its new text
        matches, else a story of its own. Returns it."""
        cluster = article_id if match is None else match.cluster_id
        own = cluster == article_id
        self.stories[article_id] = {
            "id": article_id,
            "cluster_id": cluster,
            "duplicate_of": None if own else cluster,
            "duplicate_kind": None if own or match is None else match.kind,
            "similarity": None if own or match is None else match.similarity,
        }
        return cluster

    def _row(self, doc: Document, fp: Fingerprint, version: int) -> dict:
        return {
            "id": fp.article_id,
            "url_key": fp.url_key,
            "url": doc.url,
            "canonical_url": doc.canonical_url,
            "canonical_key": fp.canonical_key,
            "source_name": doc.source_name,
            "title": doc.title,
            "author": doc.author,
            "site_name": doc.site_name,
            "language": doc.language,
            "published_at": doc.published_at,
            "published_offset": doc.published_offset,
            "text": doc.text,
            "text_hash": fp.text_hash,
            "version": version,
            "fetch_id": _fetch_id(doc, self.fetch_ids),
            "last_seen_at": self.seen_at,
        }

    def new_article(self, doc: Document, fp: Fingerprint, match: _Match | None) -> None:
        row = self._row(doc, fp, 1)
        first, last = (self.reclean_seen or {}).get(fp.article_id, (self.now, self.now))
        row.update(
            cluster_id=match.cluster_id if match else fp.article_id,
            duplicate_of=match.cluster_id if match else None,
            duplicate_kind=match.kind if match else None,
            similarity=match.similarity if match else None,
            first_seen_at=first,
            last_seen_at=row["last_seen_at"] or last,
        )
        self.inserts.append(row)
        self.versions.append(row)
        if match is None or match.kind != "exact":
            entry = IndexEntry(fp.article_id, row["cluster_id"], fp.signature, fp.buckets)
            self.signatures[fp.article_id] = (entry, False)

    def new_version(self, doc: Document, fp: Fingerprint, version: int, cluster_id: str) -> None:
        row = self._row(doc, fp, version)
        self.updates = [u for u in self.updates if u["id"] != fp.article_id] + [row]
        self.versions.append(row)
        entry = IndexEntry(fp.article_id, cluster_id, fp.signature, fp.buckets)
        self.signatures[fp.article_id] = (entry, True)

    def touch(self, doc: Document, fp: Fingerprint) -> None:
        """The same text and headline seen again: its sighting, and the metadata as read now (a
        byline, site name or language newsflow reads better than when the article was stored)."""
        columns = _REREAD_COLUMNS if self.reclean_seen is None else _RECLEAN_COLUMNS
        self.touched[fp.article_id] = {"id": fp.article_id} | {c: getattr(doc, c) for c in columns}

    def write(self, conn: duckdb.DuckDBPyConnection, index: BandIndex | None) -> None:
        if self.inserts:
            _run_with(conn, "incoming_articles", _articles_table(self.inserts), "insert_articles")
        if self.updates:
            _run_with(
                conn, "incoming_articles", _articles_table(self.updates, True), "update_articles"
            )
        if self.stories:
            stories = pa.table(
                {
                    column: pa.array(
                        [row[column] for row in self.stories.values()],
                        type=pa.float64() if column == "similarity" else pa.string(),
                    )
                    for column in (
                        "id",
                        "cluster_id",
                        "duplicate_of",
                        "duplicate_kind",
                        "similarity",
                    )
                }
            )
            _run_with(conn, "incoming_stories", stories, "restory_articles")
        if self.versions:
            load_extension(conn, "fts")  # the search_term() macro stems with fts's stem()
            versions = _versions_table(self.versions, self.now)
            _run_with(conn, "incoming_versions", versions, "insert_versions", "index_search_terms")
        if self.touched:
            touched = _articles_table(list(self.touched.values()), True)
            conn.register("touched_articles", touched)
            if self.reclean_seen is None:
                conn.execute(sql("touch_articles"), [self.now])
            else:
                conn.execute(sql("reclean_touch_articles"))
            conn.unregister("touched_articles")
        self._write_signatures(conn, index)

    def _write_signatures(self, conn: duckdb.DuckDBPyConnection, index: BandIndex | None) -> None:
        """Signatures and band rows in DuckDB; the same entries staged in the band index."""
        if not self.signatures:
            return
        entries = [entry for entry, _ in self.signatures.values()]
        table = pa.table(
            {
                "article_id": [e.article_id for e in entries],
                "signature": pa.array(
                    [np.asarray(e.signature, dtype=np.uint32) for e in entries],
                    type=pa.list_(pa.uint32()),
                ),
                "replaces": pa.array(
                    [replaces for _, replaces in self.signatures.values()], type=pa.bool_()
                ),
            }
        )
        bands = pa.table(
            {
                "band": pa.array(
                    [b for e in entries for b in range(len(e.buckets))], type=pa.uint16()
                ),
                "bucket": pa.array([int(x) for e in entries for x in e.buckets], type=pa.uint64()),
                "article_id": [e.article_id for e in entries for _ in e.buckets],
            }
        )
        conn.register("incoming_signatures", table)
        conn.register("incoming_buckets", bands)
        if any(replaces for _, replaces in self.signatures.values()):
            conn.execute(sql("delete_replaced_signatures"))
        conn.execute(sql("replace_signatures"))
        conn.unregister("incoming_signatures")
        conn.unregister("incoming_buckets")
        if index is not None:
            index.stage(entries)


def _articles_table(rows: list[dict], for_update: bool = False) -> pa.Table:
    columns = [c for c in ARTICLE_COLUMNS if not for_update or c in rows[0]]
    types = {
        "published_at": _TS, "first_seen_at": _TS, "last_seen_at": _TS,
        "version": pa.int32(), "fetch_id": pa.int64(), "similarity": pa.float64(),
    }  # fmt: skip
    return pa.table(
        {c: pa.array([r.get(c) for r in rows], type=types.get(c, pa.string())) for c in columns}
    )


def _versions_table(rows: list[dict], now: datetime) -> pa.Table:
    return pa.table(
        {
            "article_id": [r["id"] for r in rows],
            "version": pa.array([r["version"] for r in rows], type=pa.int32()),
            "text_hash": [r["text_hash"] for r in rows],
            "title": [r["title"] for r in rows],
            "text": [r["text"] for r in rows],
            "fetch_id": pa.array([r["fetch_id"] for r in rows], type=pa.int64()),
            "seen_at": pa.array([now] * len(rows), type=_TS),
        }
    )


def _run_with(
    conn: duckdb.DuckDBPyConnection, name: str, table: pa.Table, *statements: str
) -> None:
    """Run the named statements with `table` registered as `name`."""
    conn.register(name, table)
    for statement in statements:
        conn.execute(sql(statement))
    conn.unregister(name)
