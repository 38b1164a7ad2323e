-- Articles whose story changed: one whose text moved away from its story's (a URL reused for
-- another article), and the others of a story whose first article did, rooted at the earliest.
UPDATE articles SET
    cluster_id = s.cluster_id, duplicate_of = s.duplicate_of,
    duplicate_kind = s.duplicate_kind, similarity = s.similarity
FROM incoming_stories s
WHERE articles.id = s.id;
