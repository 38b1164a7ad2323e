-- Articles the extractor has not read in their current version with the current rules. A version
-- is new text or a new headline (the extractor reads both), with the publication time read then.
SELECT a.id
FROM articles AS a
LEFT JOIN event_extractions AS e ON e.article_id = a.id
WHERE e.article_id IS NULL
   OR e.text_hash <> a.text_hash
   OR e.version <> a.version
   OR e.rules_version <> $rules_version
ORDER BY a.id
