-- The sentence each provincial capital new in [$start, $end] was first reported captured in, on
-- its first day: a confirming report before a claim, then the first published.
WITH reports AS (
    SELECT
        s.day, s.capital, e.status, e.attributed_to, e.site_name, e.evidence, a.url,
        (CASE e.status WHEN 'confirmed' THEN 1 ELSE 2 END, a.published_at, a.id, e.sentence_index)
            AS rank_key
    FROM daily_capture_sources AS s
    JOIN capture_events AS e
        ON e.capital = s.capital AND e.event_date = s.day AND e.status IN ('confirmed', 'claimed')
    JOIN articles AS a ON a.id = e.article_id
    WHERE s.is_new AND s.capital_kind = 'provincial'
      AND s.day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
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
GROUP BY day, capital
ORDER BY day, capital
