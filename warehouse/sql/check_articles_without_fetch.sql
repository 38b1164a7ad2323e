-- Integrity: every article and every article version points at a fetch that exists.
SELECT 'article ' || a.id AS item
FROM articles a
WHERE a.fetch_id IS NULL OR NOT EXISTS (SELECT 1 FROM fetches f WHERE f.fetch_id = a.fetch_id)
UNION ALL
SELECT 'version ' || v.article_id || '/' || v.version
FROM article_versions v
WHERE v.fetch_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM fetches f WHERE f.fetch_id = v.fetch_id)
ORDER BY item;
