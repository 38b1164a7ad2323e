-- 002: capture events and running counts extracted from articles, the record of which article
-- versions were read, and the daily summaries computed from them (replaced per date range).

-- The day an article belongs to: its publication time at its own UTC offset when known, else UTC;
-- the first time it was seen when it has no publication time.
CREATE MACRO local_day(published_at, utc_offset, seen_at) AS CAST(make_timestamp(
    epoch_us(coalesce(published_at, seen_at))
    + coalesce(
        CASE WHEN left(utc_offset, 1) = '-' THEN -1 ELSE 1 END
        * (TRY_CAST(substr(utc_offset, 2, 2) AS BIGINT) * 60 + TRY_CAST(right(utc_offset, 2) AS BIGINT)),
        0) * 60000000
) AS DATE);

-- Who published an article: its site name, else its URL's host, else its configured source.
CREATE MACRO source_site(site_name, url, source_name) AS coalesce(
    nullif(trim(site_name), ''),
    nullif(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''),
    nullif(trim(source_name), ''),
    'unknown'
);

-- One row per sentence and capital: what the sentence reports about the capital.
CREATE TABLE capture_events (
    article_id     VARCHAR NOT NULL,
    text_hash      VARCHAR NOT NULL,      -- the article version the sentence comes from
    sentence_index INTEGER NOT NULL,      -- 0 is the title
    capital        VARCHAR NOT NULL,
    province       VARCHAR NOT NULL,
    capital_kind   VARCHAR NOT NULL,      -- provincial, or national (reported separately)
    status         VARCHAR NOT NULL,      -- confirmed, claimed, contested, denied, retaken
    attributed_to  VARCHAR,               -- taliban, officials, outlet, unverified
    rule           VARCHAR NOT NULL,      -- the event rule that matched
    mention        VARCHAR NOT NULL,      -- the place as the sentence spells it
    event_date     DATE NOT NULL,
    date_basis     VARCHAR NOT NULL,      -- 'published', or the words that dated it ("late Saturday")
    published_on   DATE NOT NULL,
    cluster_id     VARCHAR,               -- refreshed from articles before each summary
    site_name      VARCHAR NOT NULL,      -- source_site(), refreshed likewise
    evidence       VARCHAR NOT NULL,
    extracted_at   TIMESTAMPTZ NOT NULL
);

-- Running counts an article reports ("the 10th provincial capital", "nine of 34").
CREATE TABLE reported_counts (
    article_id     VARCHAR NOT NULL,
    text_hash      VARCHAR NOT NULL,
    sentence_index INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    phrase         VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,      -- ordinal, cardinal
    published_on   DATE NOT NULL,
    cluster_id     VARCHAR,
    site_name      VARCHAR NOT NULL,
    evidence       VARCHAR NOT NULL,
    extracted_at   TIMESTAMPTZ NOT NULL
);

-- The article version (and rules version) the extractor last read: new or changed ones are read.
CREATE TABLE event_extractions (
    article_id    VARCHAR PRIMARY KEY,
    text_hash     VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    rules_version VARCHAR NOT NULL,
    sentences     INTEGER NOT NULL,
    events        INTEGER NOT NULL,
    counts        INTEGER NOT NULL,
    extracted_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE daily_article_counts (
    day         DATE NOT NULL,
    site        VARCHAR NOT NULL,
    articles    INTEGER NOT NULL,
    stories     INTEGER NOT NULL,         -- distinct dedup clusters
    computed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE daily_captures (
    day                     DATE NOT NULL,
    new_capitals            INTEGER NOT NULL,  -- first reported captured (confirmed or claimed) that day
    new_capital_names       VARCHAR[] NOT NULL,
    cumulative_capitals     INTEGER NOT NULL,  -- distinct provincial capitals reported so far
    claimed_only            INTEGER NOT NULL,  -- of those, how many only the Taliban claim so far
    max_reported_count      INTEGER,           -- highest running count in that day's articles
    national_capital        VARCHAR,           -- reported separately, never in the counts above
    national_capital_status VARCHAR,
    articles                INTEGER NOT NULL,
    stories                 INTEGER NOT NULL,
    computed_at             TIMESTAMPTZ NOT NULL
);

-- Per day and capital reported captured that day: how many distinct sites (not copies) said so.
CREATE TABLE daily_capture_sources (
    day               DATE NOT NULL,
    capital           VARCHAR NOT NULL,
    province          VARCHAR NOT NULL,
    capital_kind      VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,   -- confirmed when any site confirmed it that day, else claimed
    sources           INTEGER NOT NULL,   -- distinct sites that day
    stories           INTEGER NOT NULL,   -- distinct dedup clusters that day
    sources_to_date   INTEGER NOT NULL,   -- distinct sites up to and including that day
    site_names        VARCHAR[] NOT NULL,
    first_reported_on DATE NOT NULL,
    is_new            BOOLEAN NOT NULL,
    computed_at       TIMESTAMPTZ NOT NULL
);
