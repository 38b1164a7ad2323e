-- 011: a saved page's site is the host of the canonical URL it declares. A page read from disk
-- (file://) has no web host, so the summaries fell back to its site name, and one site's saved
-- pages with and without a name counted as two sources.

-- A page's web host (url_host): its own, else, for a file on disk, its canonical URL's. NULL when
-- neither has one.
CREATE OR REPLACE MACRO page_host(url, canonical_url) AS
    coalesce(url_host(url), url_host(canonical_url));

-- 007's view, its sites counted by page_host.
CREATE OR REPLACE VIEW stories AS
WITH copies AS (
    SELECT cluster_id,
           count(*) AS copies,
           count(DISTINCT coalesce(page_host(url, canonical_url),
                                   source_site(site_name, url, source_name))) AS sites,
           min(published_at) AS first_published_at,
           min(first_seen_at) AS first_seen_at,
           max(last_seen_at) AS last_seen_at
    FROM articles
    GROUP BY cluster_id
)
SELECT c.cluster_id, k.title, k.url, k.site_name, k.language, k.published_at, c.copies, c.sites,
       c.first_published_at, c.first_seen_at, c.last_seen_at
FROM copies c
JOIN articles k ON k.id = c.cluster_id;
