-- 004: the macros as they are now, over those a warehouse got from 002 and 003 as released.
-- 002's local_day and source_site became CASE expressions (the common path cheaper; source_site
-- no longer trims the site name), and 003's scalar search_terms gave way to search_words,
-- search_term and a table macro search_terms (each distinct word stemmed once). Those edits were
-- first made in 002 and 003 themselves, which warehouses that had applied them never re-ran.
-- (002's comments on capture_events.cluster_id and site_name, "refreshed before each summary",
-- describe a refresh since dropped: both are fixed when an article version is extracted.)

-- The day an article belongs to: its publication time at its own UTC offset when known, else UTC;
-- the first time it was seen when it has no publication time. (CASE keeps the common path cheap.)
CREATE OR REPLACE MACRO local_day(published_at, utc_offset, seen_at) AS CASE
    WHEN utc_offset IS NULL THEN CAST(make_timestamp(epoch_us(coalesce(published_at, seen_at))) AS DATE)
    ELSE CAST(make_timestamp(
        epoch_us(coalesce(published_at, seen_at))
        + coalesce(
            CASE WHEN left(utc_offset, 1) = '-' THEN -1 ELSE 1 END
            * (TRY_CAST(substr(utc_offset, 2, 2) AS BIGINT) * 60
               + TRY_CAST(right(utc_offset, 2) AS BIGINT)),
            0) * 60000000
    ) AS DATE)
END;

-- Who published an article: its site name, else its URL's host, else its configured source.
CREATE OR REPLACE MACRO source_site(site_name, url, source_name) AS CASE
    WHEN site_name <> '' THEN site_name
    ELSE coalesce(
        nullif(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''),
        nullif(source_name, ''),
        'unknown')
END;

-- The words of a text: lower case, accents, apostrophes and dots dropped ("U.S." is "us"), split on
-- anything but letters and digits.
CREATE OR REPLACE MACRO search_words(body) AS regexp_split_to_array(
    regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.]', '', 'g'), '[^a-z0-9]+');

-- The search term of a word: its Porter stem (fts's stem()); NULL for one-character words and
-- Lucene's English stop words.
CREATE OR REPLACE MACRO search_term(word) AS CASE
    WHEN length(word) > 1 AND word NOT IN (
        'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is',
        'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there',
        'these', 'they', 'this', 'to', 'was', 'will', 'with')
    THEN stem(word, 'porter')
END;

-- The search terms of a text, one row per occurrence: SELECT DISTINCT term FROM search_terms('…').
-- A table macro: 003's scalar search_terms (a list) is dropped, or the two would share the name.
DROP MACRO IF EXISTS search_terms;
CREATE OR REPLACE MACRO search_terms(body) AS TABLE
SELECT term FROM (SELECT search_term(word) AS term FROM (SELECT unnest(search_words(body)) AS word))
WHERE term IS NOT NULL;

-- How often each term occurs in the title and text of each article version of a table or view
-- with the columns article_id, version, title and text. Words are counted first and each distinct
-- word stemmed once: stemming every occurrence took twice as long.
CREATE OR REPLACE MACRO search_term_counts(versions) AS TABLE
WITH words AS (
    SELECT article_id, version, word, count(*) AS n
    FROM (
        SELECT article_id, version, unnest(search_words(concat_ws(' ', title, text))) AS word
        FROM query_table(versions)
    )
    GROUP BY ALL
),
terms AS (
    SELECT word, search_term(word) AS term FROM (SELECT DISTINCT word FROM words)
)
SELECT article_id, version, term, sum(n)::INTEGER AS tf
FROM words JOIN terms USING (word)
WHERE term IS NOT NULL
GROUP BY ALL;
