-- The first report of each change the daily table shows in [$start, $end]: each provincial capital
-- new that day or taken again after a retake (reported captured: a confirming report before a
-- claim) and each capital retaken that day; then the first published.
WITH changes AS (
    SELECT day, capital, ['confirmed', 'claimed'] AS statuses
    FROM daily_capture_sources
    WHERE is_new AND capital_kind = 'provincial'
      AND day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
    UNION ALL
    SELECT day, unnest(retaken_capital_names) AS capital, ['retaken'] AS statuses
    FROM daily_captures
    WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
    UNION ALL
    SELECT day, unnest(recaptured_capital_names) AS capital, ['confirmed', 'claimed'] AS statuses
    FROM daily_captures
    WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
),
reports AS (
    SELECT
        c.day, c.capital, e.status, e.attributed_to, e.site_name, e.evidence, a.url,
        (CASE e.status WHEN 'claimed' THEN 2 ELSE 1 END, a.published_at, a.id, e.sentence_index)
            AS rank_key
    FROM changes AS c
    JOIN capture_events AS e
        ON e.capital = c.capital AND e.event_date = c.day AND list_contains(c.statuses, e.status)
    JOIN articles AS a ON a.id = e.article_id
)
SELECT
    day,
    capital,
    arg_min(status, rank_key) AS status,
    arg_min(attributed_to, rank_key) AS reported_by,
    arg_min(site_name, rank_key) AS site,
    arg_min(evidence, rank_key) AS evidence,
    arg_min(url, rank_key) AS url
FROM reports
GROUP BY day, capital, status = 'retaken'
ORDER BY day, status = 'retaken', capital
