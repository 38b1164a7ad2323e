-- 007: the de-duplicated record as a view. `articles` holds every copy (by URL), each with its
-- story's cluster_id; an analyst who wanted the stories grouped them by hand.

-- One row per story: its canonical article (the first one loaded, whose id is the cluster_id),
-- how many articles carry it, on how many sites (by web host, as the daily tables count them), and
-- when its first copy was published and when any copy was first and last seen.
CREATE OR REPLACE VIEW stories AS
WITH copies AS (
    SELECT cluster_id,
           count(*) AS copies,
           count(DISTINCT coalesce(url_host(url), source_site(site_name, url, source_name))) AS sites,
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
