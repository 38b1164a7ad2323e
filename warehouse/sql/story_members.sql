-- The other articles of a story whose first article's text moved away ($1), earliest first: the
-- first of them roots the story now. With how each joined it, and its signature (an exact copy
-- has none).
SELECT a.id, a.text, a.duplicate_kind, a.similarity, s.signature
FROM articles a
LEFT JOIN minhash_signatures s ON s.article_id = a.id
WHERE a.cluster_id = $1 AND a.id <> $1
ORDER BY a.first_seen_at, a.id;
