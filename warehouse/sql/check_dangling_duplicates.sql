-- Integrity: every duplicate points at an article that exists, and so does every cluster id,
-- at the first article of that story.
SELECT 'article ' || a.id || ' duplicate_of ' || a.duplicate_of AS item
FROM articles a
WHERE a.duplicate_of IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM articles o WHERE o.id = a.duplicate_of)
UNION ALL
SELECT 'article ' || a.id || ' cluster_id ' || a.cluster_id
FROM articles a
WHERE NOT EXISTS (SELECT 1 FROM articles o WHERE o.id = a.cluster_id)
UNION ALL
SELECT 'article ' || a.id || ' is a duplicate without a kind'
FROM articles a
WHERE (a.duplicate_of IS NULL) <> (a.duplicate_kind IS NULL)
UNION ALL
-- a story is shown by its first article, which must be in it (two pages that swapped texts
-- made each other's stories)
SELECT 'article ' || a.id || ' cluster_id ' || a.cluster_id || ', an article of story ' || o.cluster_id
FROM articles a
JOIN articles o ON o.id = a.cluster_id
WHERE o.cluster_id <> o.id
ORDER BY item;
