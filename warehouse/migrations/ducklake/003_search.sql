-- 003 (DuckLake): ../003_search.sql without the key of search_docs (each load indexes each new
-- version once) and without dropping an fts index (a lake never had one). A full-text search
-- index that every load keeps up to date; BM25 is computed at query time
-- (warehouse/sql/search_articles.sql).

-- The search terms of a text: lower case, accents, apostrophes and dots dropped ("U.S." is "us"),
-- split on anything but letters and digits, one-character words and Lucene's English stop words
-- dropped, Porter-stemmed with fts's stem(). Loads and searches both go through it.
CREATE MACRO search_terms(body) AS list_transform(
    list_filter(
        regexp_split_to_array(
            regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.]', '', 'g'),
            '[^a-z0-9]+'),
        lambda t: length(t) > 1 AND NOT list_contains(
            ['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into',
             'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then',
             'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with'], t)),
    lambda t: stem(t, 'porter'));

-- How often each term occurs in the title and text of each article version of a table or view
-- with the columns article_id, version, title and text.
CREATE MACRO search_term_counts(versions) AS TABLE
SELECT article_id, version, term, count(*)::INTEGER AS tf
FROM (
    SELECT article_id, version, unnest(search_terms(concat_ws(' ', title, text))) AS term
    FROM query_table(versions)
)
GROUP BY ALL;

-- One row per indexed article version: its number of terms (BM25's document length). Versions
-- stay indexed when a newer one arrives; searches read the version the article is at.
CREATE TABLE search_docs (
    article_id VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    terms      INTEGER NOT NULL
);

-- One row per term of an indexed article version, with its count (BM25's term frequency).
CREATE TABLE search_postings (
    term       VARCHAR NOT NULL,
    article_id VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    tf         INTEGER NOT NULL
);

-- Index the articles already stored.
CREATE TEMP VIEW stored_versions AS SELECT id AS article_id, version, title, text FROM articles;
INSERT INTO search_postings BY NAME SELECT * FROM search_term_counts('stored_versions');
INSERT INTO search_docs BY NAME
SELECT a.id AS article_id, a.version, coalesce(sum(p.tf), 0)::INTEGER AS terms
FROM articles a LEFT JOIN search_postings p ON p.article_id = a.id AND p.version = a.version
GROUP BY a.id, a.version;
DROP VIEW stored_versions;
