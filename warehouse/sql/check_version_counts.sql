-- Integrity: an article at version N has versions 1..N, and its text is its latest version's.
WITH kept AS (
    SELECT article_id, count(*) AS versions, max(version) AS latest,
           arg_max(text_hash, version) AS latest_hash
    FROM article_versions GROUP BY article_id
)
SELECT 'article ' || a.id || ' at version ' || a.version || ' has '
       || coalesce(k.versions, 0) || ' versions' AS item
FROM articles a LEFT JOIN kept k ON k.article_id = a.id
WHERE k.article_id IS NULL OR k.versions <> a.version OR k.latest <> a.version
   OR k.latest_hash <> a.text_hash
UNION ALL
SELECT 'url_key ' || url_key || ' held by ' || count(*) || ' articles'
FROM articles GROUP BY url_key HAVING count(*) > 1
ORDER BY item;
