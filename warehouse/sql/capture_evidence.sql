-- The reports behind the daily tables: one row per event day, capital, status and story (a dedup
-- cluster: a syndicated report is one story), shown by its first article's sentence, with who
-- the sentence says made the report and how many sites and articles carried it. Filters:
-- $capital (NULL: every one), $statuses (NULL: every one), days in [$start, $end]. One row over
-- $limit tells the caller there are more.
WITH reports AS (
    SELECT
        e.event_date, e.capital, e.status, e.attributed_to, e.site_name, e.evidence,
        coalesce(a.cluster_id, a.id) AS story, a.id AS article_id, a.url,
        (a.published_at, a.id, e.sentence_index) AS first_key
    FROM capture_events AS e
    JOIN articles AS a ON a.id = e.article_id
    WHERE ($capital IS NULL OR e.capital = $capital)
      AND ($statuses IS NULL OR list_contains($statuses, e.status))
      AND e.event_date BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
)
SELECT
    event_date AS day,
    capital,
    status,
    arg_min(attributed_to, first_key) AS reported_by,
    count(DISTINCT site_name) AS sites,
    count(DISTINCT article_id) AS articles,
    arg_min(site_name, first_key) AS site,
    arg_min(evidence, first_key) AS evidence,
    arg_min(url, first_key) AS url
FROM reports
GROUP BY event_date, capital, status, story
ORDER BY
    day,
    capital,
    CASE status
        WHEN 'confirmed' THEN 1 WHEN 'claimed' THEN 2 WHEN 'contested' THEN 3
        WHEN 'denied' THEN 4 ELSE 5 END,
    sites DESC,
    min(first_key)
LIMIT $limit + 1
