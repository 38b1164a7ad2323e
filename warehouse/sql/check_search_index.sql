-- Integrity: every article's current version is indexed for search once, and every term in the
-- index belongs to an indexed version.
SELECT 'article ' || a.id || ' version ' || a.version || ' is not indexed' AS item
FROM articles a
WHERE NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.article_id = a.id AND d.version = a.version)
UNION ALL
SELECT 'search_docs ' || article_id || ' version ' || version || ' indexed ' || count(*) || ' times'
FROM search_docs GROUP BY article_id, version HAVING count(*) > 1
UNION ALL
SELECT DISTINCT 'search_postings ' || p.article_id || ' version ' || p.version
FROM search_postings p
WHERE NOT EXISTS (
    SELECT 1 FROM search_docs d WHERE d.article_id = p.article_id AND d.version = p.version
)
ORDER BY item;
