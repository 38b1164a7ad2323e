-- One scan of the articles for days in [$start, $end]: articles and distinct stories per day and
-- site (all_sites = 0) and per day over all sites (all_sites = 1), kept for this transaction.
CREATE OR REPLACE TEMP TABLE article_volume AS
SELECT
    day,
    site,
    count(*) AS articles,
    count(DISTINCT cluster_id) AS stories,
    grouping(site) AS all_sites
FROM (
    SELECT
        local_day(published_at, published_offset, NULL) AS day,
        source_site(site_name, url, source_name) AS site,
        cluster_id
    FROM articles
)
WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
GROUP BY GROUPING SETS ((day, site), (day))
