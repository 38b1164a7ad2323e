-- Articles a reclean read with the same text and headline: their byline, site name, language and
-- publication time as read now (the stored time stays where the page gives none), and no
-- sighting. An article whose publication time moves has its capture events read again: their
-- dates come from it.
DELETE FROM event_extractions WHERE article_id IN (
    SELECT t.id FROM touched_articles t JOIN articles a ON a.id = t.id
    WHERE t.published_at IS NOT NULL AND t.published_at IS DISTINCT FROM a.published_at
);
UPDATE articles SET
    author = t.author, site_name = t.site_name, language = t.language,
    published_at = coalesce(t.published_at, articles.published_at),
    published_offset = CASE
        WHEN t.published_at IS NULL THEN articles.published_offset ELSE t.published_offset
    END
FROM touched_articles t
WHERE articles.id = t.id;
