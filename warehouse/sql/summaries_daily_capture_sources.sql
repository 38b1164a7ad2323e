-- Per day in [$start, $end] and capital reported captured (confirmed or claimed) that day: how
-- many distinct sites and stories carried it that day and so far, and whether it was new.
INSERT INTO daily_capture_sources
WITH reports AS (
    SELECT capital, province, capital_kind, status, event_date AS day, site_name, cluster_id
    FROM capture_events
    WHERE status IN ('confirmed', 'claimed')
),
site_firsts AS (
    SELECT capital, site_name, min(day) AS first_day
    FROM reports
    GROUP BY capital, site_name
),
firsts AS (
    SELECT capital, min(day) AS first_day
    FROM reports
    GROUP BY capital
),
per_day AS (
    SELECT
        day,
        capital,
        any_value(province) AS province,
        any_value(capital_kind) AS capital_kind,
        CASE WHEN bool_or(status = 'confirmed') THEN 'confirmed' ELSE 'claimed' END AS status,
        count(DISTINCT site_name) AS sources,
        count(DISTINCT cluster_id) AS stories,
        list(DISTINCT site_name ORDER BY site_name) AS site_names
    FROM reports
    WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
    GROUP BY day, capital
)
SELECT
    p.day,
    p.capital,
    p.province,
    p.capital_kind,
    p.status,
    p.sources,
    p.stories,
    (SELECT count(*) FROM site_firsts AS s
     WHERE s.capital = p.capital AND s.first_day <= p.day) AS sources_to_date,
    p.site_names,
    f.first_day AS first_reported_on,
    f.first_day = p.day AS is_new,
    now() AS computed_at
FROM per_day AS p
JOIN firsts AS f USING (capital)
ORDER BY p.day, p.capital
