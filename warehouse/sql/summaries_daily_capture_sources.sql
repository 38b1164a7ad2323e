-- Per day in [$start, $end] and capital reported captured (confirmed or claimed) that day: how
-- many distinct sites and stories carried it that day and so far, and whether it was new. A site
-- is its web host (url_host: www., m., amp. aside), so its pages with and without a site name are
-- one source; it is shown by the name its pages give most now (else the host), as
-- daily_article_counts shows it: an article seen again takes the site name as newsflow reads it
-- then. Files on disk have no host: their canonical URL's (page_host), else their site name (or
-- source name), stands in. The story is the article's as it stands, not the one its events were
-- extracted under: a story whose first article moved away (a URL reused for another text) is
-- rooted at its next article, whose events were not read again.
INSERT INTO daily_capture_sources
WITH events AS (
    SELECT
        e.capital, e.province, e.capital_kind, e.status, e.event_date AS day,
        source_site(a.site_name, a.url, a.source_name) AS site_name,
        a.cluster_id,  -- the story as it stands (above)
        coalesce(page_host(a.url, a.canonical_url), source_site(a.site_name, a.url, a.source_name))
            AS site
    FROM capture_events AS e
    JOIN articles AS a ON a.id = e.article_id
    WHERE e.status IN ('confirmed', 'claimed')
),
site_names AS (
    SELECT site, coalesce(mode(site_name) FILTER (WHERE lower(site_name) <> site), site) AS name
    FROM events
    GROUP BY site
),
reports AS (
    SELECT events.* EXCLUDE (site_name), site_names.name AS site_name
    FROM events JOIN site_names USING (site)
),
site_firsts AS (
    SELECT capital, site, min(day) AS first_day
    FROM reports
    GROUP BY capital, site
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
        count(DISTINCT site) AS sources,
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
