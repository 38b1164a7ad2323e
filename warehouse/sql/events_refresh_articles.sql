-- Dedup may relink an article to another cluster after extraction: copy the current values.
UPDATE capture_events AS e
SET cluster_id = a.cluster_id, site_name = source_site(a.site_name, a.url, a.source_name)
FROM articles AS a
WHERE e.article_id = a.id
  AND (e.cluster_id IS DISTINCT FROM a.cluster_id
       OR e.site_name <> source_site(a.site_name, a.url, a.source_name));
UPDATE reported_counts AS c
SET cluster_id = a.cluster_id, site_name = source_site(a.site_name, a.url, a.source_name)
FROM articles AS a
WHERE c.article_id = a.id
  AND (c.cluster_id IS DISTINCT FROM a.cluster_id
       OR c.site_name <> source_site(a.site_name, a.url, a.source_name));
