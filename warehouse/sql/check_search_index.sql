-- Integrity: every article's current version is indexed for search once, every term in the
-- index belongs to an indexed version, and each version's term count (BM25's document length) is
-- the sum of its postings (a lost posting leaves the article unfound by that word).
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
UNION ALL
SELECT 'search_docs ' || d.article_id || ' version ' || d.version || ' counts ' || d.terms
    || ' terms, its postings ' || coalesce(sum(p.tf), 0)
FROM search_docs d
LEFT JOIN search_postings p ON p.article_id = d.article_id AND p.version = d.version
GROUP BY d.article_id, d.version, d.terms
HAVING d.terms <> coalesce(sum(p.tf), 0)
ORDER BY item;
