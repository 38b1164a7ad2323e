-- Articles and distinct stories (dedup clusters) per day and site, for days in [$start, $end].
INSERT INTO daily_article_counts
SELECT day, site, count(*) AS articles, count(DISTINCT cluster_id) AS stories, now() AS computed_at
FROM (
    SELECT
        local_day(published_at, published_offset, first_seen_at) AS day,
        source_site(site_name, url, source_name) AS site,
        cluster_id
    FROM articles
)
WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
GROUP BY day, site
