-- 001 (DuckLake): ../001_init.sql without what DuckLake lacks (keys, sequences, indexes: the loads,
-- one committed at a time, keep rows unique), plus the one-row write_lock. The ingest warehouse:
-- sources, the fetch log, raw pages, feed entries, articles and their
-- versions, rejected items, and MinHash signatures for near-duplicate detection.

CREATE TABLE sources (
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    location      VARCHAR NOT NULL,
    options       JSON,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_run_at   TIMESTAMPTZ NOT NULL
);

-- One row per URL tried per run: nothing is dropped silently.
CREATE TABLE fetches (
    fetch_id      BIGINT NOT NULL,    -- max + 1 inside the load transaction (reserve_fetch_ids)
    run_id        VARCHAR,
    source_name   VARCHAR,
    url           VARCHAR NOT NULL,
    final_url     VARCHAR,
    status        INTEGER,
    outcome       VARCHAR NOT NULL,   -- ok, not_modified, or the error kind
    error         VARCHAR,
    bytes         BIGINT NOT NULL,
    elapsed_ms    DOUBLE NOT NULL,
    attempts      INTEGER NOT NULL,
    content_type  VARCHAR,
    etag          VARCHAR,
    last_modified VARCHAR,
    content_hash  VARCHAR,            -- pages.content_hash of the body, when one was kept
    fetched_at    TIMESTAMPTZ NOT NULL
);

-- Raw bodies, zlib-compressed UTF-8, stored once per distinct content.
CREATE TABLE pages (
    content_hash     VARCHAR NOT NULL,
    url              VARCHAR NOT NULL,
    encoding         VARCHAR,
    body_zlib        BLOB NOT NULL,
    bytes            BIGINT NOT NULL,
    first_fetched_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE feed_entries (
    feed_url      VARCHAR NOT NULL,
    entry_key     VARCHAR NOT NULL,
    source_name   VARCHAR,
    link          VARCHAR,
    title         VARCHAR,
    summary       VARCHAR,
    author        VARCHAR,
    published_at  TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ NOT NULL
);

-- One row per article (identified by its normalised URL); duplicates are linked, never deleted.
CREATE TABLE articles (
    id               VARCHAR NOT NULL,   -- first 16 hex of sha1(url_key)
    url_key          VARCHAR NOT NULL,
    url              VARCHAR NOT NULL,
    canonical_url    VARCHAR,
    canonical_key    VARCHAR,               -- url_key of canonical_url, for same-canonical duplicates
    source_name      VARCHAR,
    title            VARCHAR,
    author           VARCHAR,
    site_name        VARCHAR,
    language         VARCHAR,
    published_at     TIMESTAMPTZ,
    published_offset VARCHAR,
    text             VARCHAR NOT NULL,
    text_hash        VARCHAR NOT NULL,
    version          INTEGER NOT NULL,
    cluster_id       VARCHAR NOT NULL,      -- the id of the story's first article
    duplicate_of     VARCHAR,               -- NULL for the canonical article of its cluster
    duplicate_kind   VARCHAR,               -- canonical_url, exact, near
    similarity       DOUBLE,                -- estimated Jaccard for near duplicates
    fetch_id         BIGINT,
    first_seen_at    TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL
);

-- Every distinct text an article has had; the same URL with changed text is a new version.
CREATE TABLE article_versions (
    article_id VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    text_hash  VARCHAR NOT NULL,
    title      VARCHAR,
    text       VARCHAR NOT NULL,
    fetch_id   BIGINT,
    seen_at    TIMESTAMPTZ NOT NULL
);

-- Items that were fetched but had no usable text, with the reason: stored, not lost.
CREATE TABLE rejected (
    url_key       VARCHAR NOT NULL,
    url           VARCHAR NOT NULL,
    source_name   VARCHAR,
    reason        VARCHAR NOT NULL,
    title         VARCHAR,
    fetch_id      BIGINT,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL
);

-- MinHash signatures and their LSH band buckets, persisted so near-duplicate checks survive restarts.
CREATE TABLE minhash_signatures (
    article_id VARCHAR NOT NULL,
    signature  UINTEGER[] NOT NULL
);

CREATE TABLE minhash_bands (
    band       USMALLINT NOT NULL,
    bucket     UBIGINT NOT NULL,
    article_id VARCHAR NOT NULL
);

-- One row that every write transaction updates first: DuckLake then detects two concurrent write
-- transactions as a conflict and the later commit is rerun (warehouse.db.write_transaction).
CREATE TABLE write_lock (
    writes        BIGINT NOT NULL,
    last_write_at TIMESTAMPTZ
);
INSERT INTO write_lock VALUES (0, NULL);
