-- Integrity: rows that belong to an article (versions, MinHash signatures and bands) have one;
-- fetches that kept a body point at its page; rejected items point at an existing fetch.
SELECT 'article_versions ' || v.article_id AS item
FROM article_versions v WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = v.article_id)
UNION ALL
SELECT 'minhash_signatures ' || s.article_id
FROM minhash_signatures s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = s.article_id)
UNION ALL
SELECT DISTINCT 'minhash_bands ' || b.article_id
FROM minhash_bands b WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = b.article_id)
UNION ALL
SELECT 'fetches ' || f.fetch_id || ' content_hash ' || f.content_hash
FROM fetches f
WHERE f.content_hash IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.content_hash = f.content_hash)
UNION ALL
SELECT 'rejected ' || r.url_key
FROM rejected r
WHERE r.fetch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM fetches f WHERE f.fetch_id = r.fetch_id)
ORDER BY item;
