-- The stored pages a reclean reads again, by fetch: the page each article's current version was
-- read from, and the last page of each URL rejected that has no article. In the order they were
-- fetched; $sources: the source names to keep (NULL: every source); $since: only pages fetched
-- since then (NULL: every page).
SELECT f.fetch_id, f.url
FROM fetches f
WHERE f.content_hash IS NOT NULL
  AND (f.fetch_id IN (SELECT fetch_id FROM articles)
       OR f.fetch_id IN (
           SELECT r.fetch_id FROM rejected r
           WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.url_key = r.url_key)))
  AND ($sources IS NULL OR list_contains($sources, f.source_name))
  AND ($since::TIMESTAMPTZ IS NULL OR f.fetched_at >= $since::TIMESTAMPTZ)
ORDER BY f.fetch_id;
