-- Integrity: capture events, running counts and extraction records belong to existing articles.
SELECT DISTINCT 'capture_events ' || e.article_id AS item
FROM capture_events e WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = e.article_id)
UNION ALL
SELECT DISTINCT 'reported_counts ' || c.article_id
FROM reported_counts c WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = c.article_id)
UNION ALL
SELECT 'event_extractions ' || x.article_id
FROM event_extractions x WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = x.article_id)
ORDER BY item;
