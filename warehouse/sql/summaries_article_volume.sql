-- For days in [$start, $end], from the articles: articles and distinct stories per day and site
-- (all_sites = 0) and per day over all sites (all_sites = 1), kept for this transaction. A site is
-- its web host (url_host: www., m., amp. aside), as in daily_capture_sources, so its pages with
-- and without a site name are one site; it is shown by the name its pages give most (over all its
-- articles, so a site keeps one name whatever days are recomputed), else by its host. Files on
-- disk have no host: their canonical URL's (page_host), else their site name (or source name),
-- stands in.
CREATE OR REPLACE TEMP TABLE article_volume AS
WITH dated AS (
    SELECT
        local_day(published_at, published_offset, NULL) AS day,
        coalesce(page_host(url, canonical_url), source_site(site_name, url, source_name)) AS host,
        site_name,
        cluster_id
    FROM articles
),
site_names AS (
    SELECT host, coalesce(mode(site_name) FILTER (WHERE site_name <> ''), host) AS site
    FROM dated
    GROUP BY host
)
SELECT
    day,
    site,
    count(*) AS articles,
    count(DISTINCT cluster_id) AS stories,
    grouping(site) AS all_sites
FROM dated JOIN site_names USING (host)
WHERE day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
GROUP BY GROUPING SETS ((day, site), (day))
